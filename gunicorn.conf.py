"""gunicorn reads this file from the working directory: settings every deployment shares."""

# Access lines name request paths, and /webhooks/<provider>/<token>/ paths carry secrets.
logger_class = "whatsapp_saas.gunicorn_logging.MaskedLogger"
