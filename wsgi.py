from service.app import create_app
from service.logs import configure_json_logs

configure_json_logs()
app = create_app()
