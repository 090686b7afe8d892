from demo.cli import demo_cli
from service.app import create_app
from service.logs import configure_json_logs

configure_json_logs()
app = create_app()
# The demo data (``flask --app wsgi demo load``) lives outside the service package, which knows nothing of it.
app.cli.add_command(demo_cli)
