// njs body routing for bench/peers/nginx.conf.in: the top-level `model` of the JSON body picks a
// named location (@pool_<name>) that proxies to that pool. JSON.parse is the honest njs way to find
// a top-level key (a substring search would be fooled by nested or quoted "model" keys).
var pools = null;

function error(r, status, code, message) {
    r.headersOut['Content-Type'] = 'application/json';
    r.return(status, JSON.stringify({error: {message: message, type: 'invalid_request_error',
                                             param: 'model', code: code}}));
}

function route(r) {
    if (pools === null) {
        pools = JSON.parse(r.variables.pool_map);
    }
    var body;
    try {
        body = JSON.parse(r.requestText || '');
    } catch (e) {
        return error(r, 400, 'invalid_json', 'request body is not valid JSON');
    }
    if (typeof body !== 'object' || body === null || typeof body.model !== 'string') {
        return error(r, 400, 'invalid_model', '`model` must be a string');
    }
    var pool = pools[body.model];
    if (pool === undefined) {
        return error(r, 404, 'model_not_found', 'unknown model');
    }
    r.internalRedirect('@pool_' + pool);
}

export default {route};
