"""The version of otpgen, read by hatchling at build time and by ``otpgen --version``."""

__version__ = "0.1.0"
