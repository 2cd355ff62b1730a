"""moto's server (PyPI) as a local Redshift Data API for the SQL runner's adapter test.

Stock moto keeps every statement STARTED forever, never runs the SQL, and answers DescribeStatement
and CancelStatement for the ids it gave out. That is kept for unmarked statements. So the test can
also see a statement end while it is polled, this wrapper adds a lifecycle to statements whose SQL
carries a marker comment (still nothing executes any SQL):

  /* moto: finish after N */          STARTED for N-1 describes, then FINISHED
  /* moto: fail after N: <text> */    STARTED for N-1 describes, then FAILED with Error <text>

It also answers CreatedAt/UpdatedAt as epoch seconds, as the real API does (moto sends ISO strings,
which the JS SDK cannot parse), and appends every Redshift Data API request body (one JSON line each) to $MOTO_REQUEST_LOG, so the
test can assert what the SDK sent. Usage: python redshift-data-moto-server.py -H 127.0.0.1 -p PORT
"""
import json
from datetime import datetime, timezone
import os
import re
import sys

from moto.redshiftdata import models, responses
from moto.server import main

REQUEST_LOG = os.environ["MOTO_REQUEST_LOG"]
MARKER = re.compile(r"/\* moto: (finish|fail) after (\d+)(?:: (.*?))? \*/", re.S)


def _logged(name):
    original = getattr(responses.RedshiftDataAPIServiceResponse, name)

    def handler(self):
        body = self.body.decode() if isinstance(self.body, bytes) else self.body
        with open(REQUEST_LOG, "a", encoding="utf-8") as log:
            log.write(json.dumps({"action": name, "body": json.loads(body or "{}")}) + "\n")
        status, headers, answer = original(self)
        return status, headers, json.dumps(_epoch_timestamps(json.loads(answer)))

    setattr(responses.RedshiftDataAPIServiceResponse, name, handler)


def _epoch_timestamps(answer):
    # moto 5.2.5 writes CreatedAt/UpdatedAt as ISO strings; the Data API (awsJson1_1) sends epoch
    # seconds, and the JS SDK refuses the strings ("Expected real number"). Answer like the API.
    for key in ("CreatedAt", "UpdatedAt"):
        if isinstance(answer.get(key), str):
            answer[key] = datetime.fromisoformat(answer[key]).replace(tzinfo=timezone.utc).timestamp()
    return answer


for _name in ("execute_statement", "describe_statement", "cancel_statement"):
    _logged(_name)

_describe = models.RedshiftDataAPIServiceBackend.describe_statement


def describe_statement(self, statement_id):
    statement = _describe(self, statement_id)
    marker = MARKER.search(statement.query_string or "")
    if marker and statement.status == "STARTED":
        statement.polls = getattr(statement, "polls", 0) + 1
        if statement.polls >= int(marker.group(2)):
            statement.status = "FINISHED" if marker.group(1) == "finish" else "FAILED"
            statement.error = marker.group(3)
    return statement


models.RedshiftDataAPIServiceBackend.describe_statement = describe_statement
_iter = models.Statement.__iter__


def statement_fields(self):
    yield from _iter(self)
    if getattr(self, "error", None):
        yield "Error", self.error


models.Statement.__iter__ = statement_fields

if __name__ == "__main__":
    main(sys.argv[1:])
