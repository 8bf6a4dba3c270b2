"""Middleware of the whole site (not of one app)."""


class ReleaseApiViewMiddleware:
    """Free a Django REST framework view's request, response and data as soon as it answered.

    DRF keeps a view, its request and its response in reference cycles (view.request and
    view.response; request.parser_context holds the view and the request itself;
    response.renderer_context the view, the request and the response itself). Reference
    counting can't free a cycle: everything a request made, a 1,000-event ingestion body
    included, waited for the cyclic garbage collector, and each of its passes walked every
    request served since the last one (in an ingestion worker, some 30,000 objects: 1.0-1.6
    ms a batch; freeing each request at once costs about half that). Once the response is
    rendered none of those links is used again; cutting them lets each request be freed
    when its response is.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        context = getattr(response, "renderer_context", None)
        if context and getattr(response, "is_rendered", False):
            view, api_request = context.get("view"), context.get("request")
            if view is not None:
                view.__dict__.clear()
            if api_request is not None:
                api_request.parser_context = None
            response.renderer_context = None
        return response
