"""HTTP/SMTP clients for the external services the scout engine talks to.

Every client takes its settings as constructor arguments and a shared
``aiohttp.ClientSession`` (the mailer uses SMTP instead), so callers decide the lifecycle.
"""
