"""A stand-in for Twilio, used by `ivr call` and the tests: phone.py places a call
through the webhooks as Twilio does (signed with the twilio library's RequestValidator, TwiML
interpreted); rest_api.py is a local fake of Twilio's REST API.

May import: nothing of ivr (it must behave like Twilio, not like us).
"""
