"""The report's Durable blueprint; the app registers it with `app.register_functions(bp)`."""
import azure.durable_functions as df
import azure.functions as func

bp = df.Blueprint(http_auth_level=func.AuthLevel.ANONYMOUS)
