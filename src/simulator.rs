//! The appliance's side of `serve --sandbox`: starts the platform simulator (the
//! `mypostshare-sim` crate) on a loopback listener of its own, registers the instance's managed
//! simulator credentials with it, and points every platform's endpoints at it. Everything the
//! simulator does happens in its crate; this file only connects the two through what the
//! adapters use anyway: base URLs and client credentials.

use crate::clock::SharedClock;
use crate::config::{ClientCredentials, Config, sandbox_platform_endpoints};
use crate::crypto::hex;
use crate::http::server::{ServerHandle, ServerOptions};
use crate::providers::Platform;
use mypostshare_sim::{SimClient, Simulator};
use std::net::TcpListener;
use std::sync::Arc;

/// The simulator of a running `serve --sandbox`, and the loopback server the adapters call.
pub struct Mounted {
    pub simulator: Arc<Simulator>,
    pub server: ServerHandle,
}

/// The simulator's platform of one of ours: the two lists meet in the platform keys.
pub fn simulated(platform: Platform) -> mypostshare_sim::Platform {
    mypostshare_sim::Platform::from_key(platform.key())
        .unwrap_or_else(|| panic!("the simulator plays no platform {}", platform.key()))
}

/// Starts the simulator for `config` (whose `public_url` is final): pages at `/sandbox` on the
/// main listener, API calls on a private loopback listener served with `options`, so that a
/// publish request waiting for its deliveries never competes with them for the main server's
/// workers. Each platform gets managed credentials derived from the master key, registered
/// with the simulator and used unless the instance configured its own.
pub fn mount(
    config: &mut Config,
    clock: SharedClock,
    options: ServerOptions,
) -> Result<Mounted, String> {
    let simulator = Simulator::new(
        clock,
        config.master_key.derive("sandbox token signing"),
        config.sandbox_settings.clone(),
    );
    let internal = TcpListener::bind("127.0.0.1:0")
        .map_err(|e| format!("binding the simulator's loopback port: {e}"))?;
    let internal_addr = internal.local_addr().map_err(|e| e.to_string())?;
    let server = simulator
        .serve(internal, options)
        .map_err(|e| format!("starting the simulator: {e}"))?;
    config.endpoints = sandbox_platform_endpoints(
        &format!("{}/sandbox", config.public_url),
        &format!("http://{internal_addr}"),
    );
    config.allow_private_media = true;
    for platform in Platform::ALL {
        let credentials = ClientCredentials {
            client_id: format!("mps-sandbox-{}", platform.key()),
            client_secret: hex(&config
                .master_key
                .derive(&format!("sandbox client secret {}", platform.key())))[..40]
                .to_string(),
            api_host: crate::config::ApiHost::Production,
        };
        simulator.register_client(
            simulated(platform),
            SimClient {
                client_id: credentials.client_id.clone(),
                client_secret: credentials.client_secret.clone(),
                name: "mypostshare (sandbox)".into(),
                redirect_uris: vec![config.callback_url(platform)],
                trial_access: false,
            },
        );
        config
            .managed_credentials
            .entry(platform)
            .or_insert(credentials);
    }
    Ok(Mounted { simulator, server })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_simulator_plays_every_platform_we_speak() {
        for platform in Platform::ALL {
            assert_eq!(simulated(platform).key(), platform.key());
        }
    }
}
