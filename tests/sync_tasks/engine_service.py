"""The engine tests' service account, in a uniquely named module: `from conftest import ...` would
pick up whichever directory's conftest pytest imported first."""
import pyotp

SERVICE_USER = "rcsync"
SERVICE_PASSWORD = "svc-Pa55word-never-logged"
TOTP_SECRET = pyotp.random_base32()
