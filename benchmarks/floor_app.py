"""The floor for benchmarks/load_line.py: a bare Flask app that answers every webhook with the
same fixed TwiML (a short <Say> and a <Gather> back to /voice/step), doing nothing else. Served
by the Procfile's own gunicorn command, it is what the line could at best be on this machine."""

from flask import Flask, Response

app = Flask(__name__)
TWIML = (
    '<?xml version="1.0" encoding="UTF-8"?><Response><Gather action="step?s=1&amp;n=main_menu"'
    ' numDigits="1" timeout="6"><Say language="en-GB" voice="Polly.Amy">Thank you for calling.'
    "</Say></Gather></Response>"
)


@app.post("/voice/incoming")
@app.post("/voice/step")
def answer():
    return Response(TWIML, mimetype="text/xml")
