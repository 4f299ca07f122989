//! First start of `serve --sandbox` on an empty database: a demo organization with credits, an
//! app, an allowlisted redirect to the built-in demo callback page, and an API key, printed
//! with a curl walkthrough of the whole flow. Later starts leave the data alone.

use crate::app::AppState;
use crate::error::Result;
use crate::services::{apps, keys};

const DEMO_CREDITS: i64 = 1000;

pub fn first_run_setup(state: &AppState) -> Result<()> {
    let empty = state.db.read(apps::no_organizations)?;
    if !empty {
        return Ok(());
    }
    let now = state.clock.now();
    let actor = "first-run setup";
    let org = apps::create_organization(&state.db, actor, "Demo organization", DEMO_CREDITS, now)?;
    let app = apps::create_app(&state.db, actor, &org.id, "Demo app", now)?;
    let redirect = format!("{}/demo/callback", state.config.public_url);
    apps::add_redirect_uri(&state.db, actor, &app.id, &redirect, now)?;
    let (_, key) = keys::create(&state.db, actor, &app.id, "demo key", now)?;
    let api = format!("{}/api", state.config.public_url);
    println!(
        r#"
First start: created a demo organization ({DEMO_CREDITS} credits), an app and an API key.
  organization  {org_id}
  app           {app_id}
  redirect URI  {redirect}
  API key       {key}    (shown only now; keep it)

Try the whole flow against the built-in simulators (LinkedIn here; any of linkedin, facebook,
instagram, twitter, youtube, threads, pinterest, reddit works the same way):

  export MYPOSTSHARE_API_KEY={key}
  export MYPOSTSHARE_API_URL={api}

  curl -s -X POST "$MYPOSTSHARE_API_URL/v1/end-users" -H "Authorization: Bearer $MYPOSTSHARE_API_KEY" \
    -H "Content-Type: application/json" -d '{{"externalUserId":"user_123","displayName":"Test User"}}'

  curl -s -X POST "$MYPOSTSHARE_API_URL/v1/connect-sessions" -H "Authorization: Bearer $MYPOSTSHARE_API_KEY" \
    -H "Content-Type: application/json" \
    -d '{{"externalUserId":"user_123","platform":"linkedin","redirectUri":"{redirect}"}}'

  # open the connectUrl from the answer in a browser, press Continue, then Allow

  curl -s "$MYPOSTSHARE_API_URL/v1/end-users/user_123/connections" -H "Authorization: Bearer $MYPOSTSHARE_API_KEY"

  curl -s -X POST "$MYPOSTSHARE_API_URL/v1/posts" -H "Authorization: Bearer $MYPOSTSHARE_API_KEY" \
    -H "Content-Type: application/json" \
    -d '{{"externalUserId":"user_123","content":"Hello from MyPostShare.","platforms":["linkedin"]}}'

  curl -s "{sim}/_sim/linkedin/posts"    # what the simulated LinkedIn received
"#,
        org_id = org.id,
        app_id = app.id,
        sim = format_args!("{}/sandbox", state.config.public_url),
    );
    Ok(())
}
