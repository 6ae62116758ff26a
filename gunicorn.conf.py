"""gunicorn's configuration for the webhook:

    gunicorn -c gunicorn.conf.py 'framework.transports.webhook:create_app()'

The settings (address, workers, threads, timeouts, the metrics directory, the hooks that start and
stop each worker's application) live in framework/transports/gunicorn_settings.py, read from the
bot's config (PLUGBOT_CONFIG, else ./config.yaml); docs/deployment.md explains them. Settings given
after this file on gunicorn's command line (-w 4) win.
"""
from framework.transports.gunicorn_settings import *  # noqa: F403 - gunicorn reads this module's globals
