"""otpgen: generate Python asyncio modules for Erlang/OTP process patterns."""

from otpgen._version import __version__

__all__ = ["__version__"]
