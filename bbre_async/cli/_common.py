"""What every account command shares, in one import: the root options (``_state``), the
providers and their clients (``_providers``), the error-to-exit-code policy (``_errors``), the
consoles and tables (``_output``), and the parsing and printing of values (``_formats``).

The commands' modules import from here; ``bbre-async --help`` imports none of it.
"""

from bbre_async.cli._errors import (
    EXIT_API,
    EXIT_AUTH,
    EXIT_CONNECTION,
    EXIT_FAILURE,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    CliError,
    api_failure,
    page_title,
    redact,
    reports_errors,
    run,
    silence_stdout,
)
from bbre_async.cli._formats import (
    WhenType,
    expires_in,
    human_duration,
    iso,
    parse_relative,
    parse_when,
    short_time,
    usd,
)
from bbre_async.cli._output import (
    ChunkedTable,
    err_console,
    new_table,
    out_console,
    print_table,
)
from bbre_async.cli._providers import (
    AccountApi,
    ApiClient,
    Column,
    PageCounter,
    Provider,
    SessionListing,
    SessionsApi,
    counting,
    get_provider,
    register_provider,
)
from bbre_async.cli._state import (
    PROVIDER_NAMES,
    CliState,
    configure_logging,
    pass_state,
    timeout_option,
)

__all__ = [
    "EXIT_API",
    "EXIT_AUTH",
    "EXIT_CONNECTION",
    "EXIT_FAILURE",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_USAGE",
    "PROVIDER_NAMES",
    "AccountApi",
    "ApiClient",
    "ChunkedTable",
    "CliError",
    "CliState",
    "Column",
    "PageCounter",
    "Provider",
    "SessionListing",
    "SessionsApi",
    "WhenType",
    "api_failure",
    "configure_logging",
    "counting",
    "err_console",
    "expires_in",
    "get_provider",
    "human_duration",
    "iso",
    "new_table",
    "out_console",
    "page_title",
    "parse_relative",
    "parse_when",
    "pass_state",
    "print_table",
    "redact",
    "register_provider",
    "reports_errors",
    "run",
    "short_time",
    "silence_stdout",
    "timeout_option",
    "usd",
]
