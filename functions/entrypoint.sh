#!/bin/sh
# The CLIP function image's entrypoint: one image for every platform.
#   serve          the HTTP adapter (POST /invocations, GET /ping, GET /readyz): SageMaker runs
#                  `docker run IMAGE serve`; Cloud Run, RunPod, Modal and Azure are given `serve`
#                  as the container's command or arguments
#   no argument    the AWS Lambda runtime interface client with the Lambda handler
#   anything else  the runtime interface client with that handler (Lambda passes the image's CMD,
#                  or the function's ImageConfig command)
# Every branch execs, so that node replaces this shell and receives SIGTERM itself: a shell would
# not pass it on, and the platform would kill the function without its drain.
set -eu

root=$(CDPATH='' cd -- "$(dirname -- "$0")/.." && pwd)

if [ "${1:-}" = serve ]; then
  shift
  exec node "$root/dist/functions/handlers/http.js" "$@"
fi
if [ "$#" -eq 0 ]; then
  set -- dist/functions/handlers/lambda.handler
fi
exec aws-lambda-ric "$@"
