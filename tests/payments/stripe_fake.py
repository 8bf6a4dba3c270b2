"""localstripe on 127.0.0.1, its state kept in memory only, plus a small fake of what it lacks.

Run by the test setup with the Python of localstripe's own virtualenv (see conftest.py):

    python stripe_fake.py --port 8420

What localstripe does not have, added to the same server so stripe-python needs one
api_base: Checkout sessions (setup mode) and Billing Portal sessions. Their "hosted pages"
live under /_config/fake/ (localstripe lets /_config/ through without an API key, as a
browser coming back from Stripe would carry none):

- POST /_config/fake/checkout/<id>/complete  card=<16 digits>: what a customer does on
  the Checkout page: a card PaymentMethod is created and attached to the session's
  customer, `payment_method.attached` is emitted, and the answer redirects to success_url.
- POST /_config/fake/billing_portal/<id>/detach  payment_method=<pm_...>: removing a card
  in the portal (emits `payment_method.detached`).

- POST /v1/payment_intents/<id>/confirm  with a return_url (a confirmation with the
  customer present, which localstripe lacks): the PaymentIntent's next action becomes
  `redirect_to_url`, the bank's page at /_config/fake/3ds/<id>; posting result=succeed or
  result=fail there authenticates through localstripe and redirects to the return_url.

And what localstripe ignores: the Idempotency-Key header. As Stripe documents it, a POST
repeated with the same key gets the first answer again (errors included, marked
`Idempotent-Replayed: true`), with other parameters a 400 `idempotency_error`, and while
the first is still running a 409.

This file runs outside Django and outside the project's virtualenv: it imports only
localstripe and aiohttp (one of localstripe's dependencies).
"""

import argparse
import re
import secrets

from aiohttp import web
from localstripe import resources, server
from localstripe.errors import UserError
from localstripe.resources import Customer, Event, PaymentIntent, PaymentMethod, schedule_webhook

# The issue asks for localstripe's state not to be saved: it otherwise pickles its whole
# store to /tmp/localstripe.pickle after every write (and reads it back on start).
resources.Store.dump_to_disk = lambda self: None
resources.Store.try_load_from_disk = lambda self: None

SESSIONS: dict[str, dict] = {}
BASE_URL = ""
# (api key, idempotency key) -> (path, body, status, answer); None while the first runs.
IDEMPOTENT: dict[tuple[str, str], tuple[str, bytes, int, bytes] | None] = {}
# (method, path) of every API request, in order, for tests to read at /_config/fake/requests.
REQUESTS: list[dict] = []


def _idempotency_error(status: int, message: str) -> web.Response:
    return web.json_response({"error": {"type": "idempotency_error", "message": message}}, status=status)


@web.middleware
async def idempotency(request, handler):
    key = request.headers.get("Idempotency-Key")
    if request.path.startswith("/v1/"):
        REQUESTS.append({"method": request.method, "path": request.path, "idempotency_key": key})
    if request.method != "POST" or not key or not request.path.startswith("/v1/"):
        return await handler(request)
    body = await request.read()
    cache_key = (request.headers.get("Authorization", ""), key)
    if cache_key in IDEMPOTENT:
        first = IDEMPOTENT[cache_key]
        if first is None:
            return _idempotency_error(409, "There is currently another in-progress request using this key.")
        path, first_body, status, answer = first
        if path != request.path or first_body != body:
            return _idempotency_error(
                400,
                "Keys for idempotent requests can only be used with the same parameters "
                "they were first used with.",
            )
        return web.Response(
            status=status,
            body=answer,
            content_type="application/json",
            headers={"Idempotent-Replayed": "true"},
        )
    IDEMPOTENT[cache_key] = None
    try:
        response = await handler(request)
    except UserError as exc:
        response = exc.to_response()
    except BaseException:
        del IDEMPOTENT[cache_key]
        raise
    if response.status >= 500:
        del IDEMPOTENT[cache_key]  # Stripe does not keep answers to requests that failed on its side
    else:
        IDEMPOTENT[cache_key] = (request.path, body, response.status, response.body)
    return response


@web.middleware
async def confirm_with_redirect(request, handler):
    match = re.fullmatch(r"/v1/payment_intents/(pi_\w+)/confirm", request.path)
    if request.method != "POST" or match is None:
        return await handler(request)
    data = await server.get_post_data(request) or {}
    if not data.get("return_url"):
        return await handler(request)
    intent = PaymentIntent._api_retrieve(match[1])
    if intent.status != "requires_action":
        raise UserError(400, "This fake confirms with a redirect only a PaymentIntent that requires action")
    intent.next_action = {
        "type": "redirect_to_url",
        "redirect_to_url": {
            "url": f"{BASE_URL}/_config/fake/3ds/{intent.id}",
            "return_url": data["return_url"],
        },
    }
    return web.json_response(intent._export())


async def three_d_secure_page(request):
    return web.Response(
        content_type="text/html",
        text="<h1>Fake bank</h1><form method=post><button name=result value=succeed>Authenticate</button>"
        "<button name=result value=fail>Fail</button></form>",
    )


async def three_d_secure_complete(request):
    intent = PaymentIntent._api_retrieve(request.match_info["id"])
    if intent.status != "requires_action" or intent.next_action.get("type") != "redirect_to_url":
        raise UserError(400, "Nothing to authenticate")
    return_url = intent.next_action["redirect_to_url"]["return_url"]
    data = await request.post()
    PaymentIntent._api_authenticate(
        intent.id, client_secret=intent.client_secret, success=data.get("result") == "succeed"
    )
    separator = "&" if "?" in return_url else "?"
    raise web.HTTPSeeOther(f"{return_url}{separator}payment_intent={intent.id}")


async def requests_log(request):
    return web.json_response(REQUESTS)


def _new_id(prefix: str) -> str:
    return prefix + secrets.token_hex(12)


def _session_or_404(session_id: str, kind: str) -> dict:
    session = SESSIONS.get(session_id)
    if session is None or session["object"] != kind:
        raise UserError(404, "Not Found")
    return session


async def checkout_session_create(request):
    data = await server.get_post_data(request) or {}
    mode = data.get("mode")
    customer = data.get("customer")
    if mode != "setup" or not isinstance(customer, str) or not data.get("success_url"):
        raise UserError(400, "Bad request: this fake supports mode=setup with a customer and success_url")
    Customer._api_retrieve(customer)  # 404 for an unknown customer, as Stripe answers
    session_id = _new_id("cs_test_")
    session = {
        "id": session_id,
        "object": "checkout.session",
        "mode": "setup",
        "customer": customer,
        "status": "open",
        "setup_intent": None,
        "success_url": data["success_url"].replace("{CHECKOUT_SESSION_ID}", session_id),
        "cancel_url": data.get("cancel_url"),
        "client_reference_id": data.get("client_reference_id"),
        "metadata": data.get("metadata") or {},
        "url": f"{BASE_URL}/_config/fake/checkout/{session_id}",
        "livemode": False,
    }
    SESSIONS[session_id] = session
    return web.json_response(session)


async def checkout_session_retrieve(request):
    return web.json_response(_session_or_404(request.match_info["id"], "checkout.session"))


async def checkout_page(request):
    session = _session_or_404(request.match_info["id"], "checkout.session")
    return web.Response(
        content_type="text/html",
        text=(
            f"<h1>Fake Checkout (setup)</h1><form method=post action='{session['url']}/complete'>"
            "<input name=card value=4242424242424242><button>Save card</button></form>"
        ),
    )


async def checkout_complete(request):
    session = _session_or_404(request.match_info["id"], "checkout.session")
    data = await request.post()
    number = data.get("card", "4242424242424242")
    payment_method = PaymentMethod(
        type="card",
        card={"number": number, "exp_month": int(data.get("exp_month", 12)), "exp_year": 2034, "cvc": "123"},
    )
    PaymentMethod._api_attach(payment_method.id, customer=session["customer"])
    schedule_webhook(Event("payment_method.attached", payment_method))
    session.update(status="complete", setup_intent=_new_id("seti_"), payment_method=payment_method.id)
    raise web.HTTPSeeOther(session["success_url"])


async def portal_session_create(request):
    data = await server.get_post_data(request) or {}
    customer = data.get("customer")
    if not isinstance(customer, str):
        raise UserError(400, "Bad request: customer is required")
    Customer._api_retrieve(customer)
    session_id = _new_id("bps_")
    session = {
        "id": session_id,
        "object": "billing_portal.session",
        "customer": customer,
        "return_url": data.get("return_url"),
        "url": f"{BASE_URL}/_config/fake/billing_portal/{session_id}",
        "livemode": False,
    }
    SESSIONS[session_id] = session
    return web.json_response(session)


async def portal_page(request):
    session = _session_or_404(request.match_info["id"], "billing_portal.session")
    methods = [
        pm
        for key, pm in resources.store.items()
        if key.startswith("payment_method:") and pm.customer == session["customer"]
    ]
    rows = "".join(f"<li>{pm.id} {pm.card['last4']}</li>" for pm in methods)
    return web.Response(content_type="text/html", text=f"<h1>Fake Billing Portal</h1><ul>{rows}</ul>")


async def portal_detach(request):
    session = _session_or_404(request.match_info["id"], "billing_portal.session")
    data = await request.post()
    payment_method = PaymentMethod._api_retrieve(data["payment_method"])
    if payment_method.customer != session["customer"]:
        raise UserError(404, "Not Found")
    PaymentMethod._api_detach(payment_method.id)
    schedule_webhook(Event("payment_method.detached", payment_method))
    raise web.HTTPSeeOther(session["return_url"] or "/")


def main() -> None:
    global BASE_URL
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    BASE_URL = f"http://{args.host}:{args.port}"
    app = server.app
    app.middlewares.append(idempotency)
    app.middlewares.append(confirm_with_redirect)
    app.router.add_get("/_config/fake/3ds/{id}", three_d_secure_page)
    app.router.add_post("/_config/fake/3ds/{id}", three_d_secure_complete)
    app.router.add_get("/_config/fake/requests", requests_log)
    app.router.add_post("/v1/checkout/sessions", checkout_session_create)
    app.router.add_get("/v1/checkout/sessions/{id}", checkout_session_retrieve)
    app.router.add_get("/_config/fake/checkout/{id}", checkout_page)
    app.router.add_post("/_config/fake/checkout/{id}/complete", checkout_complete)
    app.router.add_post("/v1/billing_portal/sessions", portal_session_create)
    app.router.add_get("/_config/fake/billing_portal/{id}", portal_page)
    app.router.add_post("/_config/fake/billing_portal/{id}/detach", portal_detach)
    web.run_app(app, host=args.host, port=args.port, print=None, access_log=None)


if __name__ == "__main__":
    main()
