"""The web application: server-rendered pages on the same FastAPI app as the ledger API.

Pages (``/``, ``/chain/{mineral}``, ``/lab``, ``/criticality``, ``/reserve``, ``/transactions``,
``/console``) and their JSON/download endpoints under ``/web/``. Everything is served from this
package and installed packages (plotly.js from ``plotly``, Swagger UI and Redoc from
``fastapi-offline``): the application works without a network. The domain never imports this
package.
"""

from critmin.web.app import mount
from critmin.web.state import WebSettings

__all__ = ["WebSettings", "mount"]
