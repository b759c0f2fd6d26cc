"""``python -m otpgen``: the same entry point as the ``otpgen`` console script."""

from otpgen._entry import main

if __name__ == "__main__":
    main()
