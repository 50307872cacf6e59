#!/usr/bin/env python3
# A write-policy plugin as operators write them (strfry's protocol): one JSON request a line
# on stdin, one verdict a line on stdout. Decides by the event's content, for the tests:
#   "reject-me" -> reject with a message; "pow-me" -> reject with a pow: message;
#   "shadow" -> shadowReject; "slow" -> answer after SLOW_SECONDS (others meanwhile);
#   "later" -> answer after 0.3 s on a thread (answers out of order); "crash" -> exit;
#   "wrongid" -> answer another id; "garbage" -> answer a line that is not JSON;
#   anything else -> accept (or reject everything when the file has VERDICT = "reject").
# Every request is appended to $PLUGIN_LOG (one JSON line each) so tests can read them.
import json, os, sys, threading, time

VERDICT = "accept"
log_path = os.environ.get("PLUGIN_LOG")
lock = threading.Lock()


def answer(event_id, action, msg=""):
    with lock:
        sys.stdout.write(json.dumps({"id": event_id, "action": action, "msg": msg}) + "\n")
        sys.stdout.flush()


for line in sys.stdin:
    request = json.loads(line)
    if log_path:
        with open(log_path, "a") as log:
            log.write(line)
    event = request["event"]
    content, event_id = event["content"], event["id"]
    if content == "reject-me":
        answer(event_id, "reject", "spam detected")
    elif content == "pow-me":
        answer(event_id, "reject", "pow: difficulty 30 needed")
    elif content == "shadow":
        answer(event_id, "shadowReject")
    elif content == "slow":
        time.sleep(float(os.environ.get("SLOW_SECONDS", "3")))
        answer(event_id, "accept")
    elif content == "later":
        threading.Timer(0.3, answer, (event_id, "accept")).start()
    elif content == "crash":
        sys.exit(3)
    elif content == "wrongid":
        answer("00" * 32, "accept")
    elif content == "garbage":
        with lock:
            sys.stdout.write("hello\n")
            sys.stdout.flush()
    else:
        answer(event_id, VERDICT, "" if VERDICT == "accept" else "this relay takes nothing today")
