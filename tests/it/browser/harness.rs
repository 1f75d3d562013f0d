//! What the browser tests stand on: chromedriver on a free port, one headless Chromium per
//! person (each with its own fresh profile), finding controls by their accessible names
//! (XPath over `aria-label`, `<label for>` and visible text — if a test cannot find a control
//! by its name, neither can a screen reader), waiting for conditions instead of sleeping, and
//! the DevTools commands the tests need (network off/on, viewport, colour scheme), the browser's
//! console log, axe-core and screenshots.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};
use tempfile::TempDir;

/// How long a test waits for anything to appear or become true.
pub const WAIT: Duration = Duration::from_secs(20);

/// One browser test at a time: each runs a server and two Chromiums, and the CI machine has
/// two cores.
pub async fn one_at_a_time() -> tokio::sync::MutexGuard<'static, ()> {
    static LOCK: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    LOCK.lock().await
}

fn program(env: &str, default: &str) -> String {
    std::env::var(env).unwrap_or_else(|_| default.to_string())
}

/// A chromedriver process on a free port, in its own process group so that dropping it also
/// ends any Chromium it started, even when a test panics halfway.
pub struct Driver {
    child: Child,
    pub url: String,
    http: reqwest::Client,
}

impl Driver {
    pub async fn start() -> Driver {
        let bin = program("CHROMEDRIVER", "/usr/bin/chromedriver");
        let http = reqwest::Client::builder().no_proxy().timeout(Duration::from_secs(60)).build().expect("HTTP client");
        for _ in 0..5 {
            let port =
                std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port").port();
            let mut command = Command::new(&bin);
            command.arg(format!("--port={port}")).stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null());
            std::os::unix::process::CommandExt::process_group(&mut command, 0);
            let child = command
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start {bin} ({e}): apt-get install chromium chromium-driver"));
            let driver = Driver { child, url: format!("http://127.0.0.1:{port}"), http: http.clone() };
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                let status = driver.http.get(format!("{}/status", driver.url)).send().await;
                if let Ok(response) = status
                    && let Ok(body) = response.json::<Value>().await
                    && body["value"]["ready"] == true
                {
                    return driver;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            // The port was taken in between, or the driver is slow: try another one.
        }
        panic!("chromedriver did not become ready");
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill").args(["-KILL", "--", &group]).stderr(Stdio::null()).status();
        let _ = self.child.wait();
    }
}

/// Quote `text` as an XPath string literal.
pub fn lit(text: &str) -> String {
    if !text.contains('\'') {
        format!("'{text}'")
    } else if !text.contains('"') {
        format!("\"{text}\"")
    } else {
        let parts: Vec<String> = text.split('\'').map(|p| format!("'{p}'")).collect();
        format!("concat({})", parts.join(", \"'\", "))
    }
}

/// A button whose accessible name is `name` (its `aria-label`, else its text).
pub fn button(name: &str) -> String {
    let n = lit(name);
    format!("//button[normalize-space(@aria-label)={n} or (not(@aria-label) and normalize-space(.)={n})]")
}

/// A textbox (input or textarea) named `name` by `aria-label` or by a `<label for>`.
pub fn textbox(name: &str) -> String {
    let n = lit(name);
    format!(
        "//*[self::input or self::textarea][@aria-label={n} or @id=//label[normalize-space(.)={n}]/@for]\
         [not(@type='file') and not(@type='hidden')]"
    )
}

/// The link of a chat in the "Chats" navigation: named by its content, which starts with the
/// chat's name and a comma (then presence, the last message, its time, the unread count).
pub fn chat_link(chat: &str) -> String {
    format!("//nav[@aria-label='Chats']//a[starts-with(normalize-space(.), concat({}, ','))]", lit(chat))
}

/// The message log.
pub const LOG: &str = "//*[@role='log'][@aria-label='Messages']";

/// A message (role article) in the log whose text contains `text`.
pub fn message(text: &str) -> String {
    format!("{LOG}//article[contains(., {})]", lit(text))
}

/// A dialog titled `title`.
pub fn dialog(title: &str) -> String {
    format!("//dialog[@open][@aria-labelledby=//h2[normalize-space(.)={}]/@id]", lit(title))
}

pub mod keys {
    pub const ENTER: &str = "\u{E007}";
    pub const ESCAPE: &str = "\u{E00C}";
    pub const SHIFT: &str = "\u{E008}";
    pub const CONTROL: &str = "\u{E009}";
    pub const ALT: &str = "\u{E00A}";
    pub const UP: &str = "\u{E013}";
    pub const DOWN: &str = "\u{E015}";
    pub const BACKSPACE: &str = "\u{E003}";
    /// Releases every modifier key held down by this send_keys.
    pub const RELEASE: &str = "\u{E000}";
}

/// One person in their own browser and profile.
pub struct Person {
    pub name: String,
    pub client: Client,
    pub base: String,
    driver: String,
    session: String,
    http: reqwest::Client,
    _profile: TempDir,
}

impl Person {
    /// A new headless Chromium (1280×800) showing `base`.
    pub async fn open(driver: &Driver, base: &str, name: &str) -> Person {
        let profile = tempfile::tempdir().expect("profile folder");
        let args = [
            "--headless".to_string(),
            "--no-sandbox".into(),
            "--disable-gpu".into(),
            "--disable-dev-shm-usage".into(),
            "--no-first-run".into(),
            "--no-default-browser-check".into(),
            "--disable-background-networking".into(),
            "--disable-component-update".into(),
            "--disable-sync".into(),
            "--disable-search-engine-choice-screen".into(),
            "--password-store=basic".into(),
            "--lang=en-US".into(),
            "--force-device-scale-factor=1".into(),
            // A microphone that plays a tone and needs no permission prompt: "Record voice message".
            "--use-fake-device-for-media-stream".into(),
            "--use-fake-ui-for-media-stream".into(),
            "--window-size=1280,800".into(),
            format!("--user-data-dir={}", profile.path().display()),
        ];
        let capabilities = json!({
            "browserName": "chrome",
            "goog:chromeOptions": { "binary": program("CHROMIUM", "/usr/bin/chromium"), "args": args },
            "goog:loggingPrefs": { "browser": "ALL" },
        });
        let capabilities = capabilities.as_object().expect("an object").clone();
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let client = ClientBuilder::new(connector)
            .capabilities(capabilities)
            .connect(&driver.url)
            .await
            .unwrap_or_else(|e| panic!("{name}: cannot start Chromium through chromedriver: {e}"));
        let session = client.session_id().await.expect("session id").expect("a session");
        let person = Person {
            name: name.to_string(),
            client,
            base: base.to_string(),
            driver: driver.url.clone(),
            session,
            http: driver.http.clone(),
            _profile: profile,
        };
        person.cdp("Network.enable", json!({})).await;
        // The window has browser chrome even when headless: emulate the exact desktop viewport.
        person.viewport(1280, 800, false).await;
        person.goto("/").await;
        person
    }

    pub async fn close(self) {
        let _ = self.client.close().await;
    }

    pub async fn goto(&self, path: &str) {
        let url = format!("{}{}", self.base, path);
        self.client.goto(&url).await.unwrap_or_else(|e| panic!("{}: cannot open {url}: {e}", self.name));
    }

    pub async fn reload(&self) {
        self.client.refresh().await.unwrap_or_else(|e| panic!("{}: reload failed: {e}", self.name));
    }

    /// The element at `xpath`, waiting for it to exist.
    pub async fn find(&self, xpath: &str) -> Element {
        match self.client.wait().at_most(WAIT).every(Duration::from_millis(50)).for_element(Locator::XPath(xpath)).await
        {
            Ok(element) => element,
            Err(e) => self.fail(&format!("nothing at {xpath} within {WAIT:?} ({e})")).await,
        }
    }

    /// Fail the test with `problem`, the page's connection status and its console log.
    pub async fn fail(&self, problem: &str) -> ! {
        let status = self
            .client
            .execute("return [...document.querySelectorAll('[role=status],[role=alert]')].map(e => e.textContent).join(' | ');", vec![])
            .await
            .unwrap_or_default();
        let url = format!("{}/session/{}/se/log", self.driver, self.session);
        let log = match self.http.post(url).json(&json!({ "type": "browser" })).send().await {
            Ok(response) => response.json::<Value>().await.unwrap_or_default(),
            Err(_) => Value::Null,
        };
        let lines: Vec<String> = log["value"]
            .as_array()
            .map(|entries| entries.iter().map(|e| format!("  {} {}", e["level"], e["message"])).collect())
            .unwrap_or_default();
        panic!("{}: {problem}\nstatus/alerts: {status}\nconsole:\n{}", self.name, lines.join("\n"));
    }

    /// The element at `xpath`, waiting for it to exist and be visible.
    pub async fn visible(&self, xpath: &str) -> Element {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Ok(element) = self.client.find(Locator::XPath(xpath)).await
                && element.is_displayed().await.unwrap_or(false)
            {
                return element;
            }
            assert!(Instant::now() < deadline, "{}: {xpath} did not become visible within {WAIT:?}", self.name);
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub async fn count(&self, xpath: &str) -> usize {
        self.client.find_all(Locator::XPath(xpath)).await.map(|found| found.len()).unwrap_or(0)
    }

    /// Wait until nothing matches `xpath`.
    pub async fn gone(&self, xpath: &str) {
        let deadline = Instant::now() + WAIT;
        while self.count(xpath).await > 0 {
            assert!(Instant::now() < deadline, "{}: {xpath} still there after {WAIT:?}", self.name);
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Wait until the JavaScript expression `condition` is truthy; `what` says what it means.
    pub async fn until(&self, what: &str, condition: &str) {
        let deadline = Instant::now() + WAIT;
        let script = format!("return Boolean({condition});");
        loop {
            if self.client.execute(&script, vec![]).await.ok() == Some(Value::Bool(true)) {
                return;
            }
            assert!(Instant::now() < deadline, "{}: {what} did not happen within {WAIT:?}", self.name);
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub async fn js(&self, script: &str, args: Vec<Value>) -> Value {
        self.client
            .execute(script, args)
            .await
            .unwrap_or_else(|e| panic!("{}: script failed: {e}\n{script}", self.name))
    }

    pub async fn click(&self, xpath: &str) {
        let element = self.visible(xpath).await;
        element.click().await.unwrap_or_else(|e| panic!("{}: cannot click {xpath}: {e}", self.name));
    }

    pub async fn click_button(&self, name: &str) {
        self.click(&button(name)).await;
    }

    /// Type into the textbox named `name` (WebDriver key codes such as [`keys::ENTER`] work).
    pub async fn type_in(&self, name: &str, text: &str) {
        let element = self.visible(&textbox(name)).await;
        element.send_keys(text).await.unwrap_or_else(|e| panic!("{}: cannot type into {name}: {e}", self.name));
    }

    /// Keys to whatever has the focus.
    pub async fn press(&self, keys: &str) {
        let element = self.client.active_element().await.expect("a focused element");
        element.send_keys(keys).await.unwrap_or_else(|e| panic!("{}: cannot press keys: {e}", self.name));
    }

    /// Keys pressed as a person presses them (WebDriver's actions, to whatever has the focus,
    /// file inputs included): each char of `keys` down and up in turn; a modifier (e.g.
    /// [`keys::SHIFT`]) is held until the end.
    pub async fn keystrokes(&self, keys: &str) {
        use fantoccini::actions::{InputSource, KeyAction, KeyActions};
        let modifiers = [keys::SHIFT, keys::CONTROL, keys::ALT];
        let mut held = Vec::new();
        let mut actions = KeyActions::new("keyboard".into());
        for key in keys.chars() {
            actions = actions.then(KeyAction::Down { value: key });
            if modifiers.iter().any(|m| m.starts_with(key)) {
                held.push(key);
            } else {
                actions = actions.then(KeyAction::Up { value: key });
            }
        }
        for key in held {
            actions = actions.then(KeyAction::Up { value: key });
        }
        self.client.perform_actions(actions).await.unwrap_or_else(|e| panic!("{}: cannot press keys: {e}", self.name));
    }

    /// Text content of the first element at `xpath`.
    pub async fn text(&self, xpath: &str) -> String {
        let element = self.find(xpath).await;
        self.js("return arguments[0].textContent;", vec![json!(element)]).await.as_str().unwrap_or_default().to_string()
    }

    /// A DevTools command on the page's target (chromedriver's goog/cdp/execute).
    pub async fn cdp(&self, cmd: &str, params: Value) -> Value {
        let url = format!("{}/session/{}/goog/cdp/execute", self.driver, self.session);
        let response = self
            .http
            .post(url)
            .json(&json!({ "cmd": cmd, "params": params }))
            .send()
            .await
            .unwrap_or_else(|e| panic!("{}: {cmd} failed: {e}", self.name));
        let body: Value = response.json().await.expect("chromedriver answers JSON");
        assert!(body["value"].get("error").is_none(), "{}: {cmd} failed: {body}", self.name);
        body["value"].clone()
    }

    /// Cut the network off (`true`) or restore it, as DevTools' "Offline" does.
    pub async fn offline(&self, offline: bool) {
        let params = json!({ "offline": offline, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1 });
        self.cdp("Network.emulateNetworkConditions", params).await;
    }

    /// Emulate a viewport of `width`×`height` CSS pixels (`mobile`: touch, no hover).
    pub async fn viewport(&self, width: u32, height: u32, mobile: bool) {
        let params = json!({ "width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile });
        self.cdp("Emulation.setDeviceMetricsOverride", params).await;
        self.cdp("Emulation.setTouchEmulationEnabled", json!({ "enabled": mobile })).await;
        self.until("the viewport to resize", &format!("innerWidth === {width}")).await;
    }

    pub async fn color_scheme(&self, dark: bool) {
        let value = if dark { "dark" } else { "light" };
        let params = json!({ "features": [{ "name": "prefers-color-scheme", "value": value }] });
        self.cdp("Emulation.setEmulatedMedia", params).await;
        self.until("the colour scheme to apply", &format!("matchMedia('(prefers-color-scheme: {value})').matches"))
            .await;
    }

    /// The console entries since the last call, as `LEVEL message`.
    pub async fn console(&self) -> Vec<String> {
        let url = format!("{}/session/{}/se/log", self.driver, self.session);
        let response =
            self.http.post(url).json(&json!({ "type": "browser" })).send().await.expect("read the browser log");
        let body: Value = response.json().await.expect("chromedriver answers JSON");
        body["value"]
            .as_array()
            .unwrap_or_else(|| panic!("{}: no browser log: {body}", self.name))
            .iter()
            .map(|entry| {
                format!("{} {}", entry["level"].as_str().unwrap_or("?"), entry["message"].as_str().unwrap_or(""))
            })
            .collect()
    }

    /// Console errors (and warnings about the page's own code) since the last call, leaving out
    /// those `allowed` says are expected.
    pub async fn console_errors(&self, allowed: impl Fn(&str) -> bool) -> Vec<String> {
        self.console()
            .await
            .into_iter()
            .filter(|line| line.starts_with("SEVERE") || (line.starts_with("WARNING") && !line.contains("DevTools")))
            .filter(|line| !allowed(line))
            .collect()
    }

    /// Fail on any console error since the last check.
    pub async fn assert_no_console_errors(&self) {
        let errors = self.console_errors(|_| false).await;
        assert!(errors.is_empty(), "{}: console errors:\n{}", self.name, errors.join("\n"));
    }

    /// Wait until no finite CSS transition or animation is running (infinite ones, such as the
    /// typing dots, are left alone): colours sampled mid-transition are neither theme's.
    pub async fn settled(&self) {
        self.until(
            "transitions to finish",
            "document.getAnimations().every((a) => a.playState !== 'running' || a.effect?.getTiming().iterations === Infinity)",
        )
        .await;
    }

    /// Save a screenshot of the viewport as target/screenshots/`file`.png.
    pub async fn screenshot(&self, file: &str) -> PathBuf {
        self.settled().await;
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/screenshots");
        std::fs::create_dir_all(&dir).expect("create target/screenshots");
        let png = self.client.screenshot().await.expect("screenshot");
        let path = dir.join(format!("{file}.png"));
        std::fs::write(&path, png).expect("write the screenshot");
        path
    }

    /// Run axe-core's WCAG 2.0–2.2 A/AA rules on the page; fail listing every serious or
    /// critical violation. `screen` names the screen in the failure message.
    pub async fn assert_accessible(&self, screen: &str) {
        self.settled().await;
        let loaded = self.js("return typeof window.axe === 'object';", vec![]).await;
        if loaded != Value::Bool(true) {
            self.js(&format!("{};\nreturn true;", axe_source()), vec![]).await;
        }
        let script = r#"
            const done = arguments[arguments.length - 1];
            axe.run(document, {
              runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa'] },
              resultTypes: ['violations'],
            }).then(
              (r) => done(r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.slice(0, 5).map((n) => n.target.join(' ') + ' → ' + (n.failureSummary || '').replace(/\s+/g, ' ')) }))),
              (e) => done([{ id: 'axe-error', impact: 'critical', help: String(e), nodes: [] }]),
            );"#;
        let violations = self.client.execute_async(script, vec![]).await.expect("axe.run");
        let serious: Vec<&Value> = violations
            .as_array()
            .expect("a list")
            .iter()
            .filter(|v| matches!(v["impact"].as_str(), Some("serious" | "critical")))
            .collect();
        assert!(
            serious.is_empty(),
            "{}: axe-core found serious or critical WCAG violations on the {screen} screen:\n{}",
            self.name,
            serde_json::to_string_pretty(&serious).unwrap_or_default()
        );
    }

    /// No horizontal scrolling: neither the page nor any element scrolls sideways.
    pub async fn assert_no_horizontal_scroll(&self, screen: &str) {
        let wide = self
            .js(
                "const w = document.documentElement.clientWidth;
                 const out = [];
                 if (document.documentElement.scrollWidth > w) out.push('the page: ' + document.documentElement.scrollWidth + ' > ' + w);
                 for (const el of document.querySelectorAll('body *')) {
                   const r = el.getBoundingClientRect();
                   if (r.width > 0 && r.height > 0 && (r.right > w + 1 || r.left < -1) && getComputedStyle(el).position !== 'fixed'
                       && !el.closest('.visually-hidden'))
                     out.push(el.tagName.toLowerCase() + '.' + el.className + ' [' + Math.round(r.left) + ', ' + Math.round(r.right) + ']');
                 }
                 return out.slice(0, 10);",
                vec![],
            )
            .await;
        assert_eq!(wide, json!([]), "{}: wider than the {screen} viewport", self.name);
    }
}

/// axe-core's browser bundle, from npm (`.ci/run` installs it into target/js); never shipped.
fn axe_source() -> String {
    let path = crate::common::js_modules().join("axe-core/axe.min.js");
    std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "axe-core is missing at {} ({e}): run .ci/run, or (cd target/js && npm install axe-core@4.14.1)",
            path.display()
        )
    })
}
