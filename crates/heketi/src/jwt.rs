//! Heketi's JSON Web Token scheme (HS256), both sides.
//!
//! As in heketi's `middleware/jwt.go` and `client/api/go-client/client.go`
//! (Heketi v10): claims `iss` ("admin" or "user"), `iat`, `exp` (mandatory
//! on the server), optional `nbf`, and `qsh` = hex SHA-256 of
//! `"METHOD&PATH"`. The server tolerates `iat` up to 120 s in the future
//! (`HEKETI_JWT_IAT_LEEWAY_SECONDS`). Any HMAC algorithm (HS256/384/512) is
//! accepted, as jwt-go's `SigningMethodHMAC` check does; the client signs HS256.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256, Sha384, Sha512};

/// Default `iat` leeway of Heketi's server, seconds.
pub const DEFAULT_IAT_LEEWAY: i64 = 120;

/// Lifetime of the tokens the client makes (Heketi's client: 5 minutes).
pub const CLIENT_TOKEN_LIFETIME: i64 = 300;

/// `qsh` claim: hex SHA-256 of `METHOD&PATH` (path without query string).
pub fn qsh(method: &str, path: &str) -> String {
    let mut h = Sha256::new();
    h.update(method.as_bytes());
    h.update(b"&");
    h.update(path.as_bytes());
    hex::encode(h.finalize())
}

/// Claims the client puts in a token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claims {
    pub iss: String,
    pub iat: i64,
    pub exp: i64,
    pub qsh: String,
}

impl Claims {
    /// Claims for one request, as heketi's go-client `setToken` makes them.
    pub fn for_request(user: &str, method: &str, path: &str, now: i64) -> Self {
        Claims {
            iss: user.to_string(),
            iat: now,
            exp: now + CLIENT_TOKEN_LIFETIME,
            qsh: qsh(method, path),
        }
    }
}

fn hmac_sign(alg: &str, key: &[u8], data: &[u8]) -> Option<Vec<u8>> {
    macro_rules! mac {
        ($d:ty) => {{
            let mut m = <Hmac<$d> as Mac>::new_from_slice(key).ok()?;
            m.update(data);
            Some(m.finalize().into_bytes().to_vec())
        }};
    }
    match alg {
        "HS256" => mac!(Sha256),
        "HS384" => mac!(Sha384),
        "HS512" => mac!(Sha512),
        _ => None,
    }
}

fn hmac_verify(alg: &str, key: &[u8], data: &[u8], sig: &[u8]) -> bool {
    macro_rules! mac {
        ($d:ty) => {{
            match <Hmac<$d> as Mac>::new_from_slice(key) {
                Ok(mut m) => {
                    m.update(data);
                    m.verify_slice(sig).is_ok()
                }
                Err(_) => false,
            }
        }};
    }
    match alg {
        "HS256" => mac!(Sha256),
        "HS384" => mac!(Sha384),
        "HS512" => mac!(Sha512),
        _ => false,
    }
}

/// Sign `claims` with HS256 and `key`; returns the compact JWT.
pub fn sign(claims: &Claims, key: &[u8]) -> String {
    let header = serde_json::json!({"alg": "HS256", "typ": "JWT"});
    let body = serde_json::json!({
        "iss": claims.iss,
        "iat": claims.iat,
        "exp": claims.exp,
        "qsh": claims.qsh,
    });
    sign_raw(&header, &body, key)
}

/// Sign arbitrary header and claims JSON (HMAC algorithm taken from the
/// header's `alg`, HS256 if absent or unknown). Used by `sign` and by tests
/// that need malformed tokens.
pub fn sign_raw(header: &serde_json::Value, body: &serde_json::Value, key: &[u8]) -> String {
    let h = URL_SAFE_NO_PAD.encode(header.to_string());
    let b = URL_SAFE_NO_PAD.encode(body.to_string());
    let input = format!("{h}.{b}");
    let alg = header
        .get("alg")
        .and_then(|a| a.as_str())
        .unwrap_or("HS256");
    let sig = hmac_sign(alg, key, input.as_bytes())
        .or_else(|| hmac_sign("HS256", key, input.as_bytes()))
        .unwrap_or_default();
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig))
}

/// Who a verified token was issued to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Issuer {
    Admin,
    User,
}

/// Why a request was refused; `status` is the HTTP status Heketi answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthError {
    pub status: u16,
    pub message: String,
}

impl AuthError {
    fn unauthorized(m: impl Into<String>) -> Self {
        AuthError {
            status: 401,
            message: m.into(),
        }
    }
}

/// Server-side keys (`jwt.admin.key`, `jwt.user.key` of heketi.json).
#[derive(Debug, Clone)]
pub struct Keys {
    pub admin: Vec<u8>,
    pub user: Vec<u8>,
    pub iat_leeway: i64,
}

/// base64url decode as jwt-go's `DecodeSegment` (padding optional).
fn decode_segment(s: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(s.trim_end_matches('=')).ok()
}

/// Go's `time.Duration` printing for whole seconds (e.g. `1m5s`, `2h0m0s`).
fn go_duration(secs: i64) -> String {
    let neg = secs < 0;
    let s = secs.unsigned_abs();
    let (h, m, sec) = (s / 3600, (s % 3600) / 60, s % 60);
    let body = if h > 0 {
        format!("{h}h{m}m{sec}s")
    } else if m > 0 {
        format!("{m}m{sec}s")
    } else {
        format!("{sec}s")
    };
    if neg {
        format!("-{body}")
    } else {
        body
    }
}

fn claim_i64(v: &serde_json::Value, name: &str) -> Result<i64, String> {
    match v.get(name) {
        None | Some(serde_json::Value::Null) => Ok(0),
        Some(n) => n
            .as_i64()
            .or_else(|| n.as_f64().map(|f| f as i64))
            .ok_or_else(|| format!("json: cannot unmarshal {name} into Go struct field")),
    }
}

/// Verify a request's `Authorization` header exactly as Heketi's JWT
/// middleware followed by its `Auth` access check does.
///
/// `path` is the request path without the query string.
pub fn verify(
    authorization: Option<&str>,
    method: &str,
    path: &str,
    keys: &Keys,
    now: i64,
) -> Result<Issuer, AuthError> {
    // jwtmiddleware.FromAuthHeader
    let header = authorization.unwrap_or("");
    if header.is_empty() {
        return Err(AuthError::unauthorized(
            "Required authorization token not found",
        ));
    }
    let parts: Vec<&str> = header.split(' ').collect();
    let raw = match parts.as_slice() {
        [scheme, tok] if scheme.eq_ignore_ascii_case("bearer") => *tok,
        _ => {
            return Err(AuthError {
                status: 400,
                message: "Authorization header format must be Bearer {token}".into(),
            })
        }
    };
    if raw.is_empty() {
        return Err(AuthError::unauthorized(
            "Required authorization token not found",
        ));
    }
    let invalid = |m: &str| AuthError::unauthorized(format!("Invalid JWT token: {m}"));

    let segs: Vec<&str> = raw.split('.').collect();
    let [h64, b64, s64] = segs.as_slice() else {
        return Err(invalid("token contains an invalid number of segments"));
    };
    let header: serde_json::Value = decode_segment(h64)
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or_else(|| invalid("malformed token header"))?;
    let body: serde_json::Value = decode_segment(b64)
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or_else(|| invalid("malformed token claims"))?;
    let alg = header.get("alg").and_then(|a| a.as_str()).unwrap_or("");
    if !matches!(alg, "HS256" | "HS384" | "HS512") {
        return Err(invalid(&format!("Unexpected signing method: {alg}")));
    }
    let iss = body.get("iss").and_then(|v| v.as_str()).unwrap_or("");
    let (issuer, key) = match iss {
        "" => return Err(invalid("Token missing iss claim")),
        "admin" => (Issuer::Admin, &keys.admin),
        "user" => (Issuer::User, &keys.user),
        _ => return Err(invalid("Unknown user")),
    };

    // HeketiJwtClaims.Valid: exp mandatory, iat with leeway, nbf optional.
    let mut claims_err: Option<String> = None;
    let exp = claim_i64(&body, "exp").map_err(|e| invalid(&e))?;
    let iat = claim_i64(&body, "iat").map_err(|e| invalid(&e))?;
    let nbf = claim_i64(&body, "nbf").map_err(|e| invalid(&e))?;
    if exp == 0 || now > exp {
        claims_err = Some(format!("Token is expired by {}", go_duration(now - exp)));
    }
    if now < iat - keys.iat_leeway {
        claims_err = Some("Token used before issued".into());
    }
    if nbf != 0 && now < nbf {
        claims_err = Some("token is not valid yet".into());
    }
    // Signature last: its error wins, as in jwt-go's ParseWithClaims.
    let sig = decode_segment(s64).unwrap_or_default();
    let signed = format!("{h64}.{b64}");
    if !hmac_verify(alg, key, signed.as_bytes(), &sig) {
        return Err(invalid(
            "signature is invalid (client and server secrets may not match)",
        ));
    }
    if let Some(e) = claims_err {
        let mut m = e;
        if m.contains("used before issued") {
            m.push_str(" (client and server clocks may differ)");
        }
        return Err(invalid(&m));
    }
    let want = qsh(method, path);
    if body.get("qsh").and_then(|q| q.as_str()) != Some(want.as_str()) {
        return Err(AuthError::unauthorized("Invalid qsh claim in token"));
    }
    // App.Auth: a user may only use exactly /volumes.
    if issuer == Issuer::User && path != "/volumes" {
        return Err(AuthError::unauthorized("Administrator access required"));
    }
    Ok(issuer)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> Keys {
        Keys {
            admin: b"adminkey".to_vec(),
            user: b"userkey".to_vec(),
            iat_leeway: DEFAULT_IAT_LEEWAY,
        }
    }

    fn bearer(t: &str) -> String {
        format!("bearer {t}")
    }

    #[test]
    fn qsh_is_sha256_of_method_and_path() {
        // echo -n 'GET&/clusters' | sha256sum
        assert_eq!(
            qsh("GET", "/clusters"),
            "4749a59de87c27c9b2f495c5f1309b2525681dfe30c8a7b83625901b132a9c26"
        );
        assert_eq!(qsh("GET", "/clusters").len(), 64);
        assert_ne!(qsh("GET", "/clusters"), qsh("POST", "/clusters"));
    }

    #[test]
    fn known_vector_hs256() {
        // Token layout check against a hand-computed HMAC: header and claims
        // are base64url without padding, signature over "h.b".
        let c = Claims {
            iss: "admin".into(),
            iat: 1_700_000_000,
            exp: 1_700_000_300,
            qsh: qsh("GET", "/clusters"),
        };
        let t = sign(&c, b"secret");
        let parts: Vec<&str> = t.split('.').collect();
        assert_eq!(parts.len(), 3);
        assert!(!t.contains('='));
        let body: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
        assert_eq!(body["iss"], "admin");
        assert_eq!(body["exp"], 1_700_000_300);
        let mut m = <Hmac<Sha256> as Mac>::new_from_slice(b"secret").unwrap();
        m.update(format!("{}.{}", parts[0], parts[1]).as_bytes());
        assert_eq!(URL_SAFE_NO_PAD.encode(m.finalize().into_bytes()), parts[2]);
    }

    #[test]
    fn admin_and_user_accepted() {
        let now = 1_700_000_000;
        let t = sign(
            &Claims::for_request("admin", "GET", "/clusters", now),
            b"adminkey",
        );
        assert_eq!(
            verify(Some(&bearer(&t)), "GET", "/clusters", &keys(), now),
            Ok(Issuer::Admin)
        );
        let t = sign(
            &Claims::for_request("user", "POST", "/volumes", now),
            b"userkey",
        );
        assert_eq!(
            verify(
                Some(&format!("Bearer {t}")),
                "POST",
                "/volumes",
                &keys(),
                now
            ),
            Ok(Issuer::User)
        );
    }

    #[test]
    fn refusals() {
        let now = 1_700_000_000;
        let k = keys();
        // no header
        let e = verify(None, "GET", "/clusters", &k, now).unwrap_err();
        assert_eq!(
            (e.status, e.message.as_str()),
            (401, "Required authorization token not found")
        );
        // bad format
        let e = verify(Some("Token abc"), "GET", "/clusters", &k, now).unwrap_err();
        assert_eq!(e.status, 400);
        // bad key
        let t = sign(
            &Claims::for_request("admin", "GET", "/clusters", now),
            b"wrong",
        );
        let e = verify(Some(&bearer(&t)), "GET", "/clusters", &k, now).unwrap_err();
        assert_eq!(e.status, 401);
        assert!(e.message.contains("signature is invalid"), "{}", e.message);
        // expired
        let mut c = Claims::for_request("admin", "GET", "/clusters", now - 1000);
        c.exp = now - 65;
        let t = sign(&c, b"adminkey");
        let e = verify(Some(&bearer(&t)), "GET", "/clusters", &k, now).unwrap_err();
        assert_eq!(e.status, 401);
        assert_eq!(e.message, "Invalid JWT token: Token is expired by 1m5s");
        // iat too far in the future
        let c = Claims::for_request("admin", "GET", "/clusters", now + 500);
        let t = sign(&c, b"adminkey");
        let e = verify(Some(&bearer(&t)), "GET", "/clusters", &k, now).unwrap_err();
        assert!(e.message.contains("used before issued"), "{}", e.message);
        // within leeway is fine
        let c = Claims::for_request("admin", "GET", "/clusters", now + 100);
        let t = sign(&c, b"adminkey");
        assert!(verify(Some(&bearer(&t)), "GET", "/clusters", &k, now).is_ok());
        // wrong qsh (token for another path)
        let t = sign(
            &Claims::for_request("admin", "GET", "/nodes", now),
            b"adminkey",
        );
        let e = verify(Some(&bearer(&t)), "GET", "/clusters", &k, now).unwrap_err();
        assert_eq!(
            (e.status, e.message.as_str()),
            (401, "Invalid qsh claim in token")
        );
        // wrong method in qsh
        let t = sign(
            &Claims::for_request("admin", "GET", "/clusters", now),
            b"adminkey",
        );
        assert!(verify(Some(&bearer(&t)), "POST", "/clusters", &k, now).is_err());
        // user on /clusters
        let t = sign(
            &Claims::for_request("user", "GET", "/clusters", now),
            b"userkey",
        );
        let e = verify(Some(&bearer(&t)), "GET", "/clusters", &k, now).unwrap_err();
        assert_eq!(
            (e.status, e.message.as_str()),
            (401, "Administrator access required")
        );
        // user on /volumes/{id} (Heketi allows only exactly /volumes)
        let p = format!("/volumes/{}", "a".repeat(32));
        let t = sign(&Claims::for_request("user", "GET", &p, now), b"userkey");
        assert!(verify(Some(&bearer(&t)), "GET", &p, &k, now).is_err());
        // user key used with iss admin
        let t = sign(
            &Claims::for_request("admin", "GET", "/volumes", now),
            b"userkey",
        );
        assert!(verify(Some(&bearer(&t)), "GET", "/volumes", &k, now).is_err());
        // unknown issuer, missing iss
        let t = sign(
            &Claims::for_request("root", "GET", "/volumes", now),
            b"userkey",
        );
        let e = verify(Some(&bearer(&t)), "GET", "/volumes", &k, now).unwrap_err();
        assert_eq!(e.message, "Invalid JWT token: Unknown user");
        let t = sign(&Claims::for_request("", "GET", "/volumes", now), b"userkey");
        let e = verify(Some(&bearer(&t)), "GET", "/volumes", &k, now).unwrap_err();
        assert_eq!(e.message, "Invalid JWT token: Token missing iss claim");
        // missing exp
        let t = sign_raw(
            &serde_json::json!({"alg":"HS256","typ":"JWT"}),
            &serde_json::json!({"iss":"admin","iat":now,"qsh":qsh("GET","/clusters")}),
            b"adminkey",
        );
        let e = verify(Some(&bearer(&t)), "GET", "/clusters", &k, now).unwrap_err();
        assert!(e.message.contains("expired"), "{}", e.message);
        // alg none
        let t = sign_raw(
            &serde_json::json!({"alg":"none"}),
            &serde_json::json!({"iss":"admin","iat":now,"exp":now+10,"qsh":qsh("GET","/clusters")}),
            b"adminkey",
        );
        let e = verify(Some(&bearer(&t)), "GET", "/clusters", &k, now).unwrap_err();
        assert!(e.message.contains("Unexpected signing method"));
        // garbage
        let e = verify(Some("bearer a.b"), "GET", "/clusters", &k, now).unwrap_err();
        assert_eq!(e.status, 401);
    }

    #[test]
    fn hs512_accepted() {
        let now = 1_700_000_000;
        let t = sign_raw(
            &serde_json::json!({"alg":"HS512","typ":"JWT"}),
            &serde_json::json!({"iss":"admin","iat":now,"exp":now+10,"qsh":qsh("GET","/clusters")}),
            b"adminkey",
        );
        assert!(verify(Some(&bearer(&t)), "GET", "/clusters", &keys(), now).is_ok());
    }

    #[test]
    fn go_durations() {
        assert_eq!(go_duration(5), "5s");
        assert_eq!(go_duration(65), "1m5s");
        assert_eq!(go_duration(7200), "2h0m0s");
    }
}
