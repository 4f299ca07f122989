//! The platform simulator: each platform's OAuth pages, token endpoint and publishing API as
//! the real platform answers them, plus a control API (`/_sim/...`) that tests and customers use
//! to register OAuth clients, read what was published, change each platform's test settings,
//! and inject faults and latency.
//!
//! This crate owns what every platform shares: the routing by the first path segment, the
//! client registry per platform, the fault queue, the latency setting, the record of accepted
//! posts, authorization codes, revocations, the signing of stateless tokens, the test settings
//! (`settings.rs`), and a state store per platform and type (`with_platform_state`) for what a
//! platform file keeps between calls. The OAuth checks the platforms make alike are in
//! `oauth.rs`, the one consent flow and page template in `consent.rs`, the one token endpoint
//! in `token.rs`. Each platform's endpoints live in a file of their own (`linkedin.rs`) that
//! speaks only that platform's dialect.
//!
//! It does not depend on the appliance (`mypostshare`), and the compiler keeps it so: it is the
//! adapters' test oracle, so its rules come from the platforms' documentation or from
//! authoritative libraries (`twitter-text` for X), never from the adapters' code. The appliance
//! reaches it only through base URLs, exactly as it reaches the real platforms.
//!
//! Tokens are signed strings rather than rows, so that they stay valid across a restart that
//! keeps the signing key; revocations, codes, faults and posts live in memory only.

mod authorize;
pub mod consent;
pub mod crypto;
pub mod facebook;
pub mod faults;
pub mod instagram;
pub mod linkedin;
pub mod linkedin_media;
pub mod media;
pub mod oauth;
pub mod pinterest;
mod platform;
pub mod reddit;
pub mod reddit_listing;
pub mod settings;
pub mod threads;
mod token;
pub mod twitter;
pub mod youtube;

pub use platform::Platform;
pub use settings::{Setting, SettingKind, SimulatorSettings};

use chrono::{DateTime, Utc};
use crypto::{base64url, base64url_decode, constant_time_eq, hmac_sha256, random_token};
use faults::{Fault, FaultKind, Queued};
use httpkit::clock::{SharedClock, format_timestamp};
use httpkit::server::{ServerHandle, ServerOptions};
use httpkit::{BodyError, Request, Response, percent_encode};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use settings::ChangedSettings;
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::net::TcpListener;
use std::sync::{Arc, Mutex, MutexGuard};

/// An OAuth client (an "app") registered with a simulated platform.
#[derive(Clone)]
pub struct SimClient {
    pub client_id: String,
    pub client_secret: String,
    /// Shown on the consent page.
    pub name: String,
    /// Compared exactly, as the platforms do.
    pub redirect_uris: Vec<String>,
    /// The app has Pinterest's Trial access: it may create Pins only on the sandbox host
    /// (developers.pinterest.com/docs/key-concepts/access-tiers/). Other platforms ignore it.
    pub trial_access: bool,
}

impl std::fmt::Debug for SimClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimClient")
            .field("client_id", &self.client_id)
            .field("client_secret", &"<redacted>")
            .field("name", &self.name)
            .field("redirect_uris", &self.redirect_uris)
            .field("trial_access", &self.trial_access)
            .finish()
    }
}

/// An authorization code waiting for its exchange.
#[derive(Debug, Clone)]
pub(crate) struct AuthCode {
    pub platform: Platform,
    pub client_id: String,
    pub redirect_uri: String,
    pub scopes: Vec<String>,
    pub member_name: String,
    pub expires_at: DateTime<Utc>,
    pub used: bool,
    /// The PKCE challenge and its method, when the authorization request had one.
    pub pkce: Option<(String, String)>,
    /// Whether the consent asked for lasting access (Google's `access_type=offline`, Reddit's
    /// `duration=permanent`), which some platforms answer with a refresh token.
    pub offline: bool,
}

/// What a signed access or refresh token carries. Nothing about a token is stored.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub(crate) struct TokenClaims {
    /// `access` or `refresh`.
    pub typ: String,
    /// The platform key.
    pub plat: String,
    pub cid: String,
    pub sub: String,
    pub name: String,
    pub scp: Vec<String>,
    /// Unix seconds.
    pub iat: i64,
    pub exp: i64,
    /// Shared by every token that came from one consent, so a revocation ends them all.
    pub grant: String,
    pub nonce: String,
}

#[derive(Default)]
struct State {
    clients: BTreeMap<Platform, BTreeMap<String, SimClient>>,
    codes: HashMap<String, AuthCode>,
    revoked_grants: HashSet<String>,
    /// Single tokens revoked on their own (by nonce), where a platform revokes one token
    /// without ending its consent (Reddit's access tokens).
    revoked_tokens: HashSet<String>,
    faults: BTreeMap<Platform, VecDeque<Queued>>,
    latency_ms: BTreeMap<Platform, u64>,
    posts: BTreeMap<Platform, Vec<Value>>,
    /// What platform files keep for themselves (upload sessions, used refresh tokens, ...),
    /// one value per platform and type.
    platform_state: HashMap<(Platform, std::any::TypeId), Box<dyn std::any::Any + Send>>,
    /// The test settings changed through `/_sim/{platform}/settings`.
    changed_settings: ChangedSettings,
}

pub struct Simulator {
    clock: SharedClock,
    signing_key: [u8; 32],
    settings: SimulatorSettings,
    state: Mutex<State>,
}

impl Simulator {
    pub fn new(
        clock: SharedClock,
        signing_key: [u8; 32],
        settings: SimulatorSettings,
    ) -> Arc<Self> {
        Arc::new(Self {
            clock,
            signing_key,
            settings,
            state: Mutex::new(State::default()),
        })
    }

    /// Adds the client, or replaces the one with the same id.
    pub fn register_client(&self, platform: Platform, client: SimClient) {
        self.lock()
            .clients
            .entry(platform)
            .or_default()
            .insert(client.client_id.clone(), client);
    }

    /// `request.path` starts with `mount` (`""` standalone, `/sandbox` inside the appliance);
    /// the rest is `/{platform}/...` for a platform's endpoints or `/_sim/...` for control.
    pub fn handle(&self, request: &Request, mount: &str) -> Response {
        let mount = mount.trim_end_matches('/');
        let Some(segments) = request.segments_after(mount) else {
            return not_found(request, "This path is not part of the platform simulator.");
        };
        let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
        match segments.first().copied() {
            Some("_sim") => self.handle_control(request, &segments[1..]),
            Some(key) => match Platform::from_key(key) {
                Some(platform) => {
                    let base = format!("{mount}/{key}");
                    let lost = self.lock().faults.get_mut(&platform).and_then(|queue| {
                        faults::take_lost_answer(queue, &request.method, &request.path)
                    });
                    let answer =
                        (platform_file(platform).handle)(self, request, &base, &segments[1..]);
                    match lost {
                        Some(how) => lose(request, answer, how),
                        None => answer,
                    }
                }
                None => not_found(
                    request,
                    &format!("No simulated platform is called \"{key}\"."),
                ),
            },
            None => not_found(
                request,
                "Use /{platform}/... for a platform's endpoints or /_sim/... for control.",
            ),
        }
    }

    /// Serves this simulator at the root of `listener` on a worker pool of its own: the
    /// standalone `mypostshare sandbox`, and the loopback listener the appliance's adapters
    /// call in `serve --sandbox`. The body limit is raised to what media uploads need.
    pub fn serve(
        self: &Arc<Self>,
        listener: TcpListener,
        mut options: ServerOptions,
    ) -> std::io::Result<ServerHandle> {
        options.max_body_bytes = options.max_body_bytes.max(MAX_UPLOAD_BODY_BYTES);
        let sim = self.clone();
        httpkit::server::serve(
            listener,
            options,
            Arc::new(move |request: &Request| sim.handle(request, "")),
        )
    }

    /// The posts the platform accepted, oldest first, as `GET /_sim/{platform}/posts` shows them.
    pub fn accepted_posts(&self, platform: Platform) -> Vec<Value> {
        self.lock()
            .posts
            .get(&platform)
            .cloned()
            .unwrap_or_default()
    }

    // ----- shared pieces for the platform files -----

    pub(crate) fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    pub(crate) fn settings(&self) -> &SimulatorSettings {
        &self.settings
    }

    /// The current value of a test setting of `platform` (see `settings.rs`).
    pub(crate) fn setting(&self, platform: Platform, name: &str) -> Value {
        let setting = find_setting(platform, name);
        self.lock()
            .changed_settings
            .get(platform, setting, &self.settings)
    }

    /// A count setting's current value.
    pub(crate) fn count_setting(&self, platform: Platform, name: &str) -> u32 {
        let value = self.setting(platform, name).as_u64().unwrap_or(0);
        u32::try_from(value).unwrap_or(u32::MAX)
    }

    /// A text setting's current value, `None` when it is `null`.
    pub(crate) fn text_setting(&self, platform: Platform, name: &str) -> Option<String> {
        self.setting(platform, name).as_str().map(str::to_string)
    }

    /// The test settings of `platform` with their current values, as
    /// `GET /_sim/{platform}/settings` shows them.
    pub fn platform_settings(&self, platform: Platform) -> Value {
        self.lock().changed_settings.shown(
            platform,
            platform_file(platform).settings,
            &self.settings,
        )
    }

    /// Changes test settings of `platform` (a JSON object, as `POST /_sim/{platform}/settings`
    /// takes it): all of them, or none with a message naming what is wrong. Answers the
    /// settings as they are now.
    pub fn change_settings(&self, platform: Platform, changes: &Value) -> Result<Value, String> {
        self.lock()
            .changed_settings
            .apply(platform, platform_file(platform).settings, changes)?;
        Ok(self.platform_settings(platform))
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn client(&self, platform: Platform, client_id: &str) -> Option<SimClient> {
        self.lock()
            .clients
            .get(&platform)
            .and_then(|clients| clients.get(client_id))
            .cloned()
    }

    /// The client when the secret matches, compared in constant time.
    pub(crate) fn authenticate_client(
        &self,
        platform: Platform,
        client_id: &str,
        client_secret: &str,
    ) -> Option<SimClient> {
        self.client(platform, client_id)
            .filter(|c| constant_time_eq(c.client_secret.as_bytes(), client_secret.as_bytes()))
    }

    /// A stable member id for a name: the same name always signs in as the same member.
    pub(crate) fn member_id(&self, platform: Platform, member_name: &str, len: usize) -> String {
        const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
        let digest = hmac_sha256(
            &self.signing_key,
            format!("{} member:{member_name}", platform.key()).as_bytes(),
        );
        digest
            .iter()
            .cycle()
            .take(len)
            .map(|b| ALPHABET[(*b as usize) % ALPHABET.len()] as char)
            .collect()
    }

    pub(crate) fn issue_code(&self, code: AuthCode) -> String {
        let value = format!("AQ{}", random_token(62));
        self.lock().codes.insert(value.clone(), code);
        value
    }

    /// The code if it exists and was not used yet; `consume` marks it used.
    pub(crate) fn find_code(&self, value: &str) -> Option<AuthCode> {
        self.lock().codes.get(value).filter(|c| !c.used).cloned()
    }

    pub(crate) fn consume_code(&self, value: &str) {
        if let Some(code) = self.lock().codes.get_mut(value) {
            code.used = true;
        }
    }

    fn token_key(&self) -> [u8; 32] {
        hmac_sha256(&self.signing_key, b"mypostshare sandbox tokens v1")
    }

    /// Key of the HS256 id_tokens.
    pub(crate) fn id_token_key(&self) -> [u8; 32] {
        hmac_sha256(&self.signing_key, b"mypostshare sandbox id tokens v1")
    }

    /// `base64url(claims).base64url(hmac)`: valid wherever the same signing key is used.
    pub(crate) fn sign_token(&self, claims: &TokenClaims) -> String {
        let payload = base64url(
            serde_json::to_string(claims)
                .expect("claims always serialize")
                .as_bytes(),
        );
        let signature = base64url(&hmac_sha256(&self.token_key(), payload.as_bytes()));
        format!("{payload}.{signature}")
    }

    /// The claims of a token this simulator (or one with the same key) signed, whatever its
    /// expiry or revocation; the caller decides what those mean on its platform.
    pub(crate) fn verify_token(&self, token: &str) -> Option<TokenClaims> {
        let (payload, signature) = token.split_once('.')?;
        let expected = hmac_sha256(&self.token_key(), payload.as_bytes());
        let given = base64url_decode(signature)?;
        if !constant_time_eq(&expected, &given) {
            return None;
        }
        serde_json::from_slice(&base64url_decode(payload)?).ok()
    }

    /// The platform's own state of type `T`, created on first use and cleared by
    /// `/_sim/reset`; `f` runs under the simulator's lock, so it must not call back into it.
    pub(crate) fn with_platform_state<T: Default + Send + 'static, R>(
        &self,
        platform: Platform,
        f: impl FnOnce(&mut T) -> R,
    ) -> R {
        let mut state = self.lock();
        let slot = state
            .platform_state
            .entry((platform, std::any::TypeId::of::<T>()))
            .or_insert_with(|| Box::new(T::default()));
        f(slot
            .downcast_mut::<T>()
            .expect("platform state is keyed by its type"))
    }

    /// `with_platform_state`, with the platform's test settings in reach under the same lock,
    /// for a setting that is used up as it works (`SettingsInLock::take_one`).
    pub(crate) fn with_platform_state_and_settings<T: Default + Send + 'static, R>(
        &self,
        platform: Platform,
        f: impl FnOnce(&mut T, &mut SettingsInLock<'_>) -> R,
    ) -> R {
        let mut guard = self.lock();
        let State {
            platform_state,
            changed_settings,
            ..
        } = &mut *guard;
        let slot = platform_state
            .entry((platform, std::any::TypeId::of::<T>()))
            .or_insert_with(|| Box::new(T::default()));
        let mut settings = SettingsInLock {
            platform,
            changed: changed_settings,
            defaults: &self.settings,
        };
        f(
            slot.downcast_mut::<T>()
                .expect("platform state is keyed by its type"),
            &mut settings,
        )
    }

    pub(crate) fn revoke_grant(&self, grant: &str) {
        self.lock().revoked_grants.insert(grant.to_string());
    }

    pub(crate) fn is_revoked(&self, grant: &str) -> bool {
        self.lock().revoked_grants.contains(grant)
    }

    /// Ends one token and no other of its consent.
    pub(crate) fn revoke_token(&self, claims: &TokenClaims) {
        self.lock().revoked_tokens.insert(claims.nonce.clone());
    }

    pub(crate) fn is_token_revoked(&self, claims: &TokenClaims) -> bool {
        self.lock().revoked_tokens.contains(&claims.nonce)
    }

    /// Every API call (not the OAuth pages or token endpoint) starts here: the configured
    /// latency, then the next queued fault, if any, which the platform renders in its own shape.
    /// (A `lost_answer` is not the platform's to render: `handle` takes it and loses the
    /// answer after the platform's handler.)
    pub(crate) fn begin_api_call(&self, platform: Platform, request: &Request) -> Option<Fault> {
        let (latency, fault) = {
            let mut state = self.lock();
            let latency = state.latency_ms.get(&platform).copied().unwrap_or(0);
            let fault = state
                .faults
                .get_mut(&platform)
                .and_then(|queue| faults::take_next(queue, &request.method, &request.path));
            (latency, fault)
        };
        if latency > 0 {
            std::thread::sleep(std::time::Duration::from_millis(latency));
        }
        if let Some(Fault {
            kind: FaultKind::Timeout { delay_ms },
            ..
        }) = &fault
        {
            std::thread::sleep(std::time::Duration::from_millis(*delay_ms));
        }
        fault
    }

    /// Records `post` unless an earlier post created since `since` makes `is_duplicate` true;
    /// then that earlier post comes back instead. One lock covers both, so two identical posts
    /// sent at once cannot both pass.
    pub(crate) fn record_post_unless_duplicate(
        &self,
        platform: Platform,
        since: DateTime<Utc>,
        is_duplicate: impl Fn(&Value) -> bool,
        post: Value,
    ) -> Result<(), Value> {
        let since = format_timestamp(since);
        let mut state = self.lock();
        let posts = state.posts.entry(platform).or_default();
        if let Some(earlier) = posts
            .iter()
            .rev()
            .filter(|p| {
                p["createdAt"]
                    .as_str()
                    .is_some_and(|at| at >= since.as_str())
            })
            .find(|p| is_duplicate(p))
        {
            return Err(earlier.clone());
        }
        posts.push(post);
        Ok(())
    }

    /// Marks the first accepted post of `platform` that `matches` as deleted (`"deleted": true`
    /// and `"deletedAt"`), as a platform's delete endpoint does: the record stays, so a test
    /// sees what was deleted. Whether a post was found that was not deleted before.
    pub(crate) fn mark_post_deleted(
        &self,
        platform: Platform,
        matches: impl Fn(&Value) -> bool,
    ) -> bool {
        let at = format_timestamp(self.now());
        let mut state = self.lock();
        let posts = state.posts.entry(platform).or_default();
        match posts
            .iter_mut()
            .find(|p| p["deleted"] != Value::Bool(true) && matches(p))
        {
            Some(post) => {
                post["deleted"] = Value::Bool(true);
                post["deletedAt"] = Value::String(at);
                true
            }
            None => false,
        }
    }

    // ----- control API -----

    fn handle_control(&self, request: &Request, segments: &[&str]) -> Response {
        let method = request.method.as_str();
        match (method, segments) {
            ("POST", ["clients"]) => self.control_register_client(request),
            ("GET", ["clients"]) => self.control_list_clients(),
            ("GET", [platform, "posts"]) => match control_platform(platform) {
                Ok(platform) => Response::json(200, &Value::Array(self.accepted_posts(platform))),
                Err(err) => err.response(request),
            },
            ("GET", [platform, "settings"]) => match control_platform(platform) {
                Ok(platform) => Response::json(200, &self.platform_settings(platform)),
                Err(err) => err.response(request),
            },
            ("POST" | "PATCH", [platform, "settings"]) => {
                let changed = control_platform(platform).and_then(|platform| {
                    let changes = control_body(request)?;
                    self.change_settings(platform, &changes).map_err(invalid)
                });
                match changed {
                    Ok(settings) => Response::json(200, &settings),
                    Err(err) => err.response(request),
                }
            }
            ("GET" | "HEAD", ["media", name]) => media::serve(request, name).unwrap_or_else(|| {
                not_found(
                    request,
                    "Sample media: sample.png, sample.jpg, sample.gif, sample.mp4 (?bytes=N).",
                )
            }),
            ("POST", ["faults"]) => self.control_add_fault(request),
            ("GET", ["faults"]) => self.control_list_faults(),
            ("DELETE", ["faults"]) => {
                self.lock().faults.clear();
                Response::no_content()
            }
            ("POST", ["latency"]) => self.control_set_latency(request),
            ("POST", ["reset"]) => {
                let mut state = self.lock();
                state.posts.clear();
                state.faults.clear();
                state.codes.clear();
                state.revoked_grants.clear();
                state.revoked_tokens.clear();
                state.latency_ms.clear();
                state.platform_state.clear();
                state.changed_settings.clear();
                Response::no_content()
            }
            (
                _,
                ["clients"] | ["faults"] | ["latency"] | ["reset"] | [_, "posts"] | [_, "settings"],
            ) => {
                let allowed: &[&str] = match segments {
                    ["clients"] => &["POST"],
                    ["faults"] | ["latency"] => &["POST", "DELETE"],
                    ["reset"] => &["POST"],
                    [_, "settings"] => &["GET", "POST", "PATCH"],
                    _ => &["GET"],
                };
                ControlError::method_not_allowed(&request.path, method, allowed).response(request)
            }
            _ => not_found(
                request,
                "Unknown control path; see /_sim/clients, /_sim/{platform}/posts, /_sim/{platform}/settings, /_sim/faults, /_sim/latency, /_sim/reset.",
            ),
        }
    }

    fn control_register_client(&self, request: &Request) -> Response {
        let parsed = control_body(request).and_then(|body| {
            let platform = control_platform(required_str(&body, "platform")?)?;
            let client_id = required_str(&body, "clientId")?.to_string();
            let client_secret = required_str(&body, "clientSecret")?.to_string();
            let name = match &body["name"] {
                Value::Null => client_id.clone(),
                Value::String(name) if !name.trim().is_empty() => name.trim().to_string(),
                _ => return Err(invalid("\"name\" must be a non-empty string when given.")),
            };
            let redirect_uris = body["redirectUris"]
                .as_array()
                .filter(|uris| !uris.is_empty())
                .ok_or_else(|| {
                    invalid("\"redirectUris\" must be a non-empty array of absolute URLs.")
                })?
                .iter()
                .map(|uri| {
                    uri.as_str()
                        .filter(|u| u.starts_with("http://") || u.starts_with("https://"))
                        .map(str::to_string)
                        .ok_or_else(|| {
                            invalid(format!(
                                "Every entry of \"redirectUris\" must be an absolute http(s) URL; {uri} is not."
                            ))
                        })
                })
                .collect::<Result<Vec<_>, _>>()?;
            let trial_access = match &body["accessTier"] {
                Value::Null => false,
                Value::String(tier) if tier == "standard" => false,
                Value::String(tier) if tier == "trial" && platform == Platform::Pinterest => true,
                _ => {
                    return Err(invalid(
                        "\"accessTier\" is \"standard\" (the default) or, for pinterest, \"trial\".",
                    ));
                }
            };
            Ok((
                platform,
                SimClient {
                    client_id,
                    client_secret,
                    name,
                    redirect_uris,
                    trial_access,
                },
            ))
        });
        match parsed {
            Ok((platform, client)) => {
                let shown = client_json(platform, &client);
                self.register_client(platform, client);
                Response::json(201, &shown)
            }
            Err(err) => err.response(request),
        }
    }

    fn control_list_clients(&self) -> Response {
        let state = self.lock();
        let list: Vec<Value> = state
            .clients
            .iter()
            .flat_map(|(platform, clients)| {
                clients
                    .values()
                    .map(|client| client_json(*platform, client))
            })
            .collect();
        Response::json(200, &Value::Array(list))
    }

    fn control_add_fault(&self, request: &Request) -> Response {
        let parsed = control_body(request).and_then(|body| {
            let platform = control_platform(required_str(&body, "platform")?)?;
            let fault = faults::parse_fault(&body)?;
            if platform == Platform::Pinterest
                && fault.effect == faults::Effect::Rendered(FaultKind::Duplicate)
            {
                // Pinterest's API has no duplicate-Pin refusal; pretending one would teach
                // the adapter an answer production never gives.
                return Err(invalid(
                    "Pinterest has no duplicate refusal: the same Pin can be created again. Use another fault kind.",
                ));
            }
            Ok((platform, fault))
        });
        match parsed {
            Ok((platform, fault)) => {
                let shown = fault.to_json(platform);
                self.lock()
                    .faults
                    .entry(platform)
                    .or_default()
                    .push_back(fault);
                Response::json(201, &shown)
            }
            Err(err) => err.response(request),
        }
    }

    fn control_list_faults(&self) -> Response {
        let state = self.lock();
        let list: Vec<Value> = state
            .faults
            .iter()
            .flat_map(|(platform, queue)| queue.iter().map(|f| f.to_json(*platform)))
            .collect();
        Response::json(200, &Value::Array(list))
    }

    fn control_set_latency(&self, request: &Request) -> Response {
        let parsed = control_body(request).and_then(|body| {
            let platform = control_platform(required_str(&body, "platform")?)?;
            let ms = body["ms"]
                .as_u64()
                .filter(|ms| *ms <= faults::MAX_DELAY_MS)
                .ok_or_else(|| {
                    invalid(format!(
                        "\"ms\" must be a whole number of milliseconds from 0 to {}.",
                        faults::MAX_DELAY_MS
                    ))
                })?;
            Ok((platform, ms))
        });
        match parsed {
            Ok((platform, ms)) => {
                self.lock().latency_ms.insert(platform, ms);
                Response::json(200, &json!({"platform": platform.key(), "ms": ms}))
            }
            Err(err) => err.response(request),
        }
    }
}

/// The platform did the call and answered `answer`; that answer is lost on the way back. After
/// `delay_ms` (by then a client with a shorter timeout has given up) a gateway answers 504 in
/// its place, as a load balancer in front of the platform would; with a `status`, the gateway
/// answers that 5xx at once (the backend acted, its client is told it failed).
fn lose(request: &Request, answer: Response, how: faults::Lost) -> Response {
    let status = match how.status {
        Some(status) => status,
        None => {
            std::thread::sleep(std::time::Duration::from_millis(how.delay_ms));
            504
        }
    };
    httpkit::log_info!(
        "simulator: lost the {} answer to {} {}, answered {status} (lost_answer fault)",
        answer.status,
        request.method,
        request.path
    );
    let (title, why) = match status {
        504 => ("504 Gateway Time-out", "did not answer in time"),
        502 => ("502 Bad Gateway", "sent an invalid answer"),
        503 => ("503 Service Temporarily Unavailable", "is unavailable"),
        _ => ("Server Error", "failed"),
    };
    Response::html(
        status,
        format!(
            "<html><head><title>{title}</title></head><body><h1>{title}</h1><p>The upstream server {why}.</p></body></html>"
        ),
    )
}

fn client_json(platform: Platform, client: &SimClient) -> Value {
    json!({
        "platform": platform.key(),
        "clientId": client.client_id,
        "name": client.name,
        "redirectUris": client.redirect_uris,
        "accessTier": if client.trial_access { "trial" } else { "standard" },
    })
}

/// Largest request body the simulator takes: media uploads (4 MiB video parts, whole images
/// and videos) exceed the API's limit.
const MAX_UPLOAD_BODY_BYTES: usize = 64 * 1024 * 1024;

/// What the shared routing needs of one platform file: its endpoints and its test settings.
/// Adding a platform means one row here and one file.
struct PlatformFile {
    handle: PlatformHandler,
    settings: &'static [Setting],
}

/// A platform file's entry point: the request, its base path (`{mount}/{key}`) and the path
/// segments after it.
type PlatformHandler = fn(&Simulator, &Request, &str, &[&str]) -> Response;

fn platform_file(platform: Platform) -> PlatformFile {
    let (handle, settings): (PlatformHandler, _) = match platform {
        Platform::Linkedin => (linkedin::handle, linkedin_media::SETTINGS),
        Platform::Twitter => (twitter::handle, twitter::SETTINGS),
        Platform::Facebook => (facebook::handle, facebook::SETTINGS),
        Platform::Instagram => (instagram::handle, instagram::SETTINGS),
        Platform::Youtube => (youtube::handle, youtube::SETTINGS),
        Platform::Threads => (threads::handle, &[][..]),
        Platform::Pinterest => (pinterest::handle, pinterest::SETTINGS),
        Platform::Reddit => (reddit::handle, reddit::SETTINGS),
    };
    PlatformFile { handle, settings }
}

/// The declared setting `name` of `platform`; asking for an undeclared one is a bug of the
/// platform file, caught by its first test.
fn find_setting(platform: Platform, name: &str) -> &'static Setting {
    platform_file(platform)
        .settings
        .iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("{} declares no setting {name}", platform.key()))
}

/// The platform's test settings within `with_platform_state_and_settings`.
pub(crate) struct SettingsInLock<'a> {
    platform: Platform,
    changed: &'a mut ChangedSettings,
    defaults: &'a SimulatorSettings,
}

impl SettingsInLock<'_> {
    /// Takes one from a count setting that is used up as it works; whether one was left.
    pub(crate) fn take_one(&mut self, name: &str) -> bool {
        let setting = find_setting(self.platform, name);
        self.changed.take_one(self.platform, setting, self.defaults)
    }
}

/// A refusal of the control API (`/_sim/...`), in the error shape of the appliance's own API
/// (`{"message","error","statusCode","code"}`), since the control API is ours, not a
/// platform's.
#[derive(Debug)]
pub(crate) struct ControlError {
    pub status: u16,
    pub code: &'static str,
    pub message: String,
    /// With 405: the methods the path accepts.
    pub allow: Option<String>,
}

impl ControlError {
    fn method_not_allowed(path: &str, method: &str, allowed: &[&str]) -> Self {
        Self {
            status: 405,
            code: "METHOD_NOT_ALLOWED",
            message: format!("{path} accepts {}, not {method}.", allowed.join(", ")),
            allow: Some(httpkit::allow_header(allowed)),
        }
    }

    fn response(&self, _request: &Request) -> Response {
        let response = Response::json(
            self.status,
            &httpkit::error_body(self.status, self.code, &self.message),
        );
        match &self.allow {
            Some(allow) => response.with_header("Allow", allow),
            None => response,
        }
    }
}

impl From<BodyError> for ControlError {
    fn from(err: BodyError) -> Self {
        Self {
            status: 400,
            code: err.code(),
            message: err.message(),
            allow: None,
        }
    }
}

/// The JSON body of a control request.
fn control_body(request: &Request) -> Result<Value, ControlError> {
    Ok(request.json_value()?)
}

pub(crate) fn invalid(message: impl Into<String>) -> ControlError {
    ControlError {
        status: 400,
        code: "INVALID_SIMULATOR_REQUEST",
        message: message.into(),
        allow: None,
    }
}

fn required_str<'a>(body: &'a Value, field: &str) -> Result<&'a str, ControlError> {
    body[field]
        .as_str()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| {
            invalid(format!(
                "\"{field}\" is required and must be a non-empty string."
            ))
        })
}

fn control_platform(key: &str) -> Result<Platform, ControlError> {
    Platform::parse(key).map_err(invalid)
}

fn not_found(request: &Request, message: &str) -> Response {
    ControlError {
        status: 404,
        code: "NOT_FOUND",
        message: format!("{message} ({} {})", request.method, request.path),
        allow: None,
    }
    .response(request)
}

/// `application/x-www-form-urlencoded` value encoding (spaces as `+`), which is what the
/// platforms put in their redirect query strings.
pub(crate) fn form_encode(text: &str) -> String {
    percent_encode(text).replace("%20", "+")
}

/// Appends form-encoded pairs to a redirect URI that may already have a query string.
pub(crate) fn redirect_with(uri: &str, pairs: &[(&str, &str)]) -> String {
    let query = pairs
        .iter()
        .map(|(k, v)| format!("{}={}", form_encode(k), form_encode(v)))
        .collect::<Vec<_>>()
        .join("&");
    let separator = if uri.contains('?') { '&' } else { '?' };
    format!("{uri}{separator}{query}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use httpkit::clock::OffsetClock;

    fn sim(key: u8) -> Arc<Simulator> {
        Simulator::new(OffsetClock::new(), [key; 32], SimulatorSettings::default())
    }

    fn claims() -> TokenClaims {
        TokenClaims {
            typ: "access".into(),
            plat: "linkedin".into(),
            cid: "c".into(),
            sub: "s".into(),
            name: "n".into(),
            scp: vec!["openid".into()],
            iat: 1,
            exp: 2,
            grant: "g".into(),
            nonce: "x".into(),
        }
    }

    #[test]
    fn tokens_verify_only_under_the_same_key() {
        let token = sim(1).sign_token(&claims());
        assert_eq!(sim(1).verify_token(&token), Some(claims()));
        assert_eq!(sim(2).verify_token(&token), None);
        let tampered = token.replacen('e', "f", 1);
        assert!(tampered == token || sim(1).verify_token(&tampered).is_none());
    }

    #[test]
    fn member_ids_are_stable_per_name_and_key() {
        let a = sim(1).member_id(Platform::Linkedin, "Alex Morgan", 10);
        assert_eq!(a.len(), 10);
        assert_eq!(a, sim(1).member_id(Platform::Linkedin, "Alex Morgan", 10));
        assert_ne!(a, sim(1).member_id(Platform::Linkedin, "Sam Lee", 10));
        assert_ne!(a, sim(2).member_id(Platform::Linkedin, "Alex Morgan", 10));
    }

    fn call(sim: &Simulator, method: &str, path: &str, body: &str) -> (u16, Value) {
        let mut request = Request::new(method, path);
        request.body = body.as_bytes().to_vec();
        let response = sim.handle(&request, "");
        let value = serde_json::from_slice(&response.body).unwrap_or(Value::Null);
        (response.status, value)
    }

    #[test]
    fn every_platform_shows_and_changes_its_settings_at_one_path() {
        let sim = sim(1);
        assert_eq!(
            call(&sim, "GET", "/_sim/youtube/settings", ""),
            (
                200,
                json!({"processingPolls": 1, "consentScreenTesting": 0, "interruptUploads": 0})
            )
        );
        assert_eq!(
            call(&sim, "GET", "/_sim/instagram/settings", ""),
            (200, json!({"requireAppSecret": null}))
        );
        assert_eq!(
            call(&sim, "GET", "/_sim/facebook/settings", ""),
            (
                200,
                json!({"requireAppSecret": null, "videoProcessingPolls": 1, "failVideoProcessing": 0})
            )
        );
        let (status, shown) = call(
            &sim,
            "PATCH",
            "/_sim/youtube/settings",
            r#"{"interruptUploads": 2}"#,
        );
        assert_eq!(
            (status, shown),
            (
                200,
                json!({"processingPolls": 1, "consentScreenTesting": 0, "interruptUploads": 2})
            )
        );
        assert_eq!(sim.count_setting(Platform::Youtube, "interruptUploads"), 2);
        let (status, refused) = call(
            &sim,
            "POST",
            "/_sim/reddit/settings",
            r#"{"requestsPerMinute": 0}"#,
        );
        assert_eq!(status, 400);
        assert_eq!(refused["code"], "INVALID_SIMULATOR_REQUEST");
        assert!(refused["message"].as_str().unwrap().contains("1 to 100000"));
        let (status, refused) = call(&sim, "POST", "/_sim/X/settings", "{}");
        assert_eq!(status, 400);
        assert!(refused["message"].as_str().unwrap().contains("twitter"));
        assert_eq!(call(&sim, "DELETE", "/_sim/linkedin/settings", "").0, 405);
        call(&sim, "POST", "/_sim/reset", "");
        assert_eq!(sim.count_setting(Platform::Youtube, "interruptUploads"), 0);
    }

    #[test]
    fn every_declared_setting_has_a_default_of_its_kind() {
        let defaults = SimulatorSettings::default();
        for platform in Platform::ALL {
            for setting in platform_file(platform).settings {
                let value = (setting.default)(&defaults);
                match setting.kind {
                    SettingKind::Count { min, max } => {
                        let n = value.as_u64().expect("a count");
                        assert!((min..=max).contains(&n), "{}", setting.name);
                    }
                    SettingKind::Text { .. } => assert!(value.is_null() || value.is_string()),
                }
            }
        }
    }

    #[test]
    fn redirect_query_uses_plus_for_spaces() {
        assert_eq!(
            redirect_with("https://a.example/cb?x=1", &[("e", "a b"), ("s", "&")]),
            "https://a.example/cb?x=1&e=a+b&s=%26"
        );
    }
}
