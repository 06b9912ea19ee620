//! Modules and servers made of the built example components; the HTTP
//! client and the components' paths come from the harness.

use std::net::SocketAddr;

use meridian::wasm::ModuleConfig;
use meridian_tests::TestServer;
pub use meridian_tests::examples::wasm_path;
pub use meridian_tests::http::{Answer, get, request, try_get, try_request};

/// The bytes of example `name`.
pub fn wasm(name: &str) -> Vec<u8> {
    std::fs::read(wasm_path(name)).expect("read component")
}

/// FUNCTION LOAD of `bytes` over `c`: the library's name, or the error.
pub fn function_load(c: &mut redis::Connection, bytes: &[u8]) -> redis::RedisResult<String> {
    redis::cmd("FUNCTION").arg("LOAD").arg(bytes).query(c)
}

/// FUNCTION LOAD of example `name`, which must load: the library's name.
pub fn load_example(c: &mut redis::Connection, name: &str) -> String {
    function_load(c, &wasm(name)).unwrap_or_else(|e| panic!("FUNCTION LOAD {name}: {e}"))
}

/// A module config for example `name` served at `route` (edge modules).
pub fn module(name: &str, route: Option<&str>) -> ModuleConfig {
    ModuleConfig {
        name: Some(name.to_string()),
        route: route.map(str::to_string),
        ..ModuleConfig::new(wasm_path(name))
    }
}

/// A server with an HTTP port and `modules` loaded.
pub fn server_with(modules: Vec<ModuleConfig>) -> TestServer {
    TestServer::start_with(move |c| {
        c.http_port = Some(0);
        c.modules = modules;
    })
}

/// The edge HTTP address of `s`.
pub fn http(s: &TestServer) -> SocketAddr {
    s.http_addr().expect("http listener")
}
