//! Unit tests of the API's pure parts: the OpenAPI document and the error mapping (time
//! ranges, label matchers and downsampling are tested with `domain::history`).

use super::ApiError;
use axum::http::StatusCode;
use axum::response::IntoResponse;

#[test]
fn openapi_lists_every_route_with_security() {
    let spec = super::openapi::spec();
    let paths = spec["paths"].as_object().unwrap();
    assert!(paths.contains_key("/api/v1/hosts/{agent_id}/query"));
    assert!(paths.contains_key("/metrics"));
    for (path, methods) in paths {
        for (method, operation) in methods.as_object().unwrap() {
            assert!(operation["security"].is_array(), "{method} {path}");
        }
    }
    assert_eq!(
        spec["paths"]["/api/v1/login"]["post"]["security"],
        serde_json::json!([])
    );
    let token_body = &spec["paths"]["/api/v1/api-tokens"]["post"]["requestBody"]["content"]
        ["application/json"]["schema"]["properties"];
    assert_eq!(
        token_body["scope"]["enum"],
        serde_json::json!(["read", "admin"])
    );
    assert_eq!(token_body["expires_in"]["type"], "string");
}

#[test]
fn errors_map_to_statuses_with_json_messages() {
    let response = ApiError::TooManyRequests {
        retry_after_secs: 7,
    }
    .into_response();
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(response.headers()["retry-after"], "7");
    assert_eq!(
        ApiError::Unauthorized.into_response().status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        ApiError::Forbidden("x").into_response().status(),
        StatusCode::FORBIDDEN
    );
    let redirect = ApiError::LoginPage.into_response();
    assert_eq!(redirect.status(), StatusCode::SEE_OTHER);
    assert_eq!(redirect.headers()["location"], "/login");
}
