//! Unit tests of the API's pure parts: the OpenAPI document (time ranges, label matchers and
//! downsampling are tested with `domain::history`, the error mapping with `http::error`).

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
