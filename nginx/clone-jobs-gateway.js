// clone-jobs-gateway.js — the two things nginx 1.22's own variables cannot do for the gateway (njs, js_set).
// keyDigest: the one x-api-key as a SHA-256 for the key maps; logUri: the request URI with no secret in it;
// h2Malformed: an HTTP/2 request with a connection-specific header, which nginx 1.22 lets through;
// httpsRedirect: the 301 for plain HTTP on the TLS port, with a JSON body (nginx's own would be HTML).
import crypto from 'crypto';

// The SHA-256 (lowercase hex) of the request's x-api-key, or "" when it has none or more than one.
// nginx's $http_x_api_key is only the first of several such headers, and map compares strings ignoring
// case; the maps are keyed by this digest instead, so only the exact key, sent once, finds its client.
function keyDigest(r) {
    const headers = r.rawHeadersIn;
    let value = null;
    let count = 0;
    for (let i = 0; i < headers.length; i++) {
        const name = headers[i][0];
        if (name.length === 9 && name.toLowerCase() === 'x-api-key') {
            count++;
            value = headers[i][1];
        }
    }
    if (count !== 1) {
        return '';
    }
    return crypto.createHash('sha256').update(value).digest('hex');
}

// The request URI for the access log: the path as sent, and of the query only the API's own parameters
// ($clone_jobs_log_params, from the route table); any other parameter, name and value, becomes "*",
// because a client may put its key in the query under any name.
function logUri(r) {
    const uri = r.variables.request_uri || '';
    const q = uri.indexOf('?');
    if (q < 0) {
        return uri;
    }
    const keep = (r.variables.clone_jobs_log_params || '').split(' ').filter(function (n) { return n !== ''; });
    const parts = uri.substring(q + 1).split('&').map(function (part) {
        const eq = part.indexOf('=');
        const name = eq < 0 ? part : part.substring(0, eq);
        return name !== '' && keep.indexOf(name) >= 0 ? part : '*';
    });
    return uri.substring(0, q) + '?' + parts.join('&');
}

// RFC 9113 8.2.2: an HTTP/2 request holding a connection-specific header field (Connection, Keep-Alive,
// Proxy-Connection, Transfer-Encoding, Upgrade), or TE with anything but "trailers", is malformed. nginx
// 1.22 passes such requests on; the route locations refuse them with a 400 when this returns "1".
const CONNECTION_SPECIFIC = ['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade'];

function h2Malformed(r) {
    if (r.httpVersion !== '2.0') {
        return '';
    }
    const headers = r.rawHeadersIn;
    for (let i = 0; i < headers.length; i++) {
        const name = headers[i][0].toLowerCase();
        if (CONNECTION_SPECIFIC.indexOf(name) >= 0) {
            return '1';
        }
        if (name === 'te' && headers[i][1].trim().toLowerCase() !== 'trailers') {
            return '1';
        }
    }
    return '';
}

// The https redirect for plain HTTP sent to the TLS port: to the configured host only
// ($clone_jobs_redirect_host, never the client's Host), the port and the request URI as sent.
function httpsRedirect(r) {
    const v = r.variables;
    r.status = 301;
    r.headersOut['Location'] = 'https://' + v.clone_jobs_redirect_host + ':' + v.server_port + v.request_uri;
    r.headersOut['Content-Type'] = 'application/json';
    const body = '{"message":"Moved Permanently"}';
    r.headersOut['Content-Length'] = body.length;
    r.sendHeader();
    r.send(body);
    r.finish();
}

export default {keyDigest, logUri, h2Malformed, httpsRedirect};
