//! The web console in a real headless Chromium, driven over WebDriver
//! (chromedriver, started here on a free port): against three regions it
//! shows the three regions, finds and edits a key written over RESP, shows
//! a cut link as a partition with growing lag, draws the charts, and
//! deploys an example module that then answers over HTTP in every region.
//!
//! Screenshots of the main views are written to
//! `target/console-screenshots/` for people to look at; nothing compares
//! them. Needs Debian's `chromium` and `chromium-driver` (scripts/test.sh
//! installs them); without them the test fails and says so.

use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use meridian_tests::call::ok;
use meridian_tests::http::get;
use meridian_tests::{Mode, TempDir, TestCluster};

const PATIENCE: Duration = Duration::from_secs(30);

/// What Chromium needs on a machine without network or display: without
/// the networking flags it waits on connections that never come.
const CHROMIUM_FLAGS: &[&str] = &[
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--window-size=1400,1000",
];

type Outcome = Result<(), String>;

/// `program` on PATH.
fn on_path(program: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(program))
            .find(|p| p.is_file())
    })
}

/// chromedriver on a free port, stopped when dropped.
struct Driver {
    child: Child,
    port: u16,
}

impl Driver {
    fn start() -> Driver {
        let bin = on_path("chromedriver").unwrap_or_else(|| {
            panic!("chromedriver is not installed: apt-get install chromium chromium-driver (scripts/test.sh does)")
        });
        let port = meridian_tests::free_port();
        let child = Command::new(bin)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let driver = Driver { child, port };
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let deadline = Instant::now() + PATIENCE;
        while TcpStream::connect(addr).is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not listen");
            std::thread::sleep(Duration::from_millis(50));
        }
        driver
    }

    async fn browser(&self, profile: &Path) -> Client {
        let mut args: Vec<String> = CHROMIUM_FLAGS.iter().map(|s| s.to_string()).collect();
        args.push(format!("--user-data-dir={}", profile.display()));
        let mut options = serde_json::json!({ "args": args });
        if let Some(chromium) = on_path("chromium") {
            options["binary"] = serde_json::json!(chromium);
        }
        let caps = serde_json::json!({ "browserName": "chrome", "goog:chromeOptions": options });
        let serde_json::Value::Object(caps) = caps else {
            unreachable!("a JSON object")
        };
        ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(caps)
            .connect(&format!("http://127.0.0.1:{}", self.port))
            .await
            .expect("a Chromium session")
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Where screenshots go: `target/console-screenshots/`.
fn screenshot_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test exe");
    // target/<profile>/deps/<test> → target
    let dir = exe
        .ancestors()
        .nth(3)
        .expect("target dir")
        .join("console-screenshots");
    std::fs::create_dir_all(&dir).expect("screenshot dir");
    dir
}

async fn screenshot(c: &Client, name: &str) -> Outcome {
    let png = c
        .screenshot()
        .await
        .map_err(|e| format!("screenshot: {e}"))?;
    std::fs::write(screenshot_dir().join(format!("{name}.png")), png)
        .map_err(|e| format!("saving {name}.png: {e}"))
}

/// Polls `check` (which reads the page) until it answers `Some`, or fails
/// with what it last saw.
async fn until<T, F, Fut>(what: &str, mut check: F) -> Result<T, String>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<Option<T>, String>>,
{
    let deadline = Instant::now() + PATIENCE;
    loop {
        let last = match check().await {
            Ok(Some(v)) => return Ok(v),
            Ok(None) => String::new(),
            Err(e) => e,
        };
        if Instant::now() >= deadline {
            return Err(format!("timed out waiting for {what} {last}"));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn text(c: &Client, css: &str) -> Result<String, String> {
    let e = c
        .find(Locator::Css(css))
        .await
        .map_err(|e| format!("{css}: {e}"))?;
    e.text().await.map_err(|e| format!("{css}: {e}"))
}

async fn click(c: &Client, css: &str) -> Outcome {
    c.find(Locator::Css(css))
        .await
        .map_err(|e| format!("{css}: {e}"))?
        .click()
        .await
        .map_err(|e| format!("click {css}: {e}"))
}

async fn type_into(c: &Client, css: &str, value: &str) -> Outcome {
    let e = c
        .find(Locator::Css(css))
        .await
        .map_err(|e| format!("{css}: {e}"))?;
    e.clear().await.map_err(|e| format!("clear {css}: {e}"))?;
    e.send_keys(value)
        .await
        .map_err(|e| format!("type into {css}: {e}"))
}

async fn count(c: &Client, css: &str) -> Result<usize, String> {
    c.find_all(Locator::Css(css))
        .await
        .map(|v| v.len())
        .map_err(|e| format!("{css}: {e}"))
}

async fn regions_view(c: &Client, cluster: &TestCluster, console: SocketAddr) -> Outcome {
    c.goto(&format!("http://{console}/ui"))
        .await
        .map_err(|e| format!("open the console: {e}"))?;
    let title = until("the region's name", || async {
        let t = text(c, "#region-title").await?;
        Ok((!t.is_empty()).then_some(t))
    })
    .await?;
    if !title.contains(cluster.name(0)) {
        return Err(format!("title {title:?} does not name {}", cluster.name(0)));
    }
    // Three regions: this one and a link to each of the other two, up.
    until("both links up", || async {
        let rows = text(c, "#links-table tbody").await?;
        let up = count(c, "#mesh line.link-up").await?;
        let regions = count(c, "#mesh circle").await?;
        Ok((rows.contains(cluster.name(1))
            && rows.contains(cluster.name(2))
            && up == 2
            && regions == 3)
            .then_some(()))
    })
    .await?;
    screenshot(c, "regions").await
}

async fn keys_view(c: &Client, cluster: &TestCluster) -> Outcome {
    let mut r = cluster.conn(1);
    let _: () = ok(&mut r, &["SET", "console:greeting", "hello from RESP"]);
    let _: i64 = ok(
        &mut r,
        &["HSET", "console:user:1", "name", "ann", "city", "Lyon"],
    );
    // Written in region 2, browsed in region 1 once replicated.
    click(c, "#tabs button[data-view=keys]").await?;
    type_into(c, "#scan-pattern", "console:*").await?;
    until("the key in the browser", || async {
        click(c, "#scan-button").await?;
        tokio::time::sleep(Duration::from_millis(100)).await;
        Ok((count(c, "#keys-table tr[data-key='console:greeting']").await? == 1).then_some(()))
    })
    .await?;
    click(c, "#keys-table tr[data-key='console:user:1']").await?;
    until("the hash's fields", || async {
        let v = text(c, "#key-value").await.unwrap_or_default();
        Ok((v.contains("city") && v.contains("Lyon")).then_some(()))
    })
    .await?;
    let meta = text(c, "#key-meta").await?;
    if !meta.contains(cluster.name(1)) {
        return Err(format!(
            "the last write should be {}'s: {meta}",
            cluster.name(1)
        ));
    }
    screenshot(c, "keys").await?;
    // Edit the string with confirmation; every region sees the change.
    click(c, "#keys-table tr[data-key='console:greeting']").await?;
    until("the string's value", || async {
        let v = c
            .find(Locator::Css("#string-value"))
            .await
            .map_err(|e| e.to_string())?
            .prop("value")
            .await
            .map_err(|e| e.to_string())?;
        Ok((v.as_deref() == Some("hello from RESP")).then_some(()))
    })
    .await?;
    type_into(c, "#string-value", "edited in the browser").await?;
    click(c, "#key-value button.save").await?;
    click(c, "#confirm-yes").await?;
    let mut r3 = cluster.conn(2);
    until("the edit in region 3", || {
        let v: Option<String> = ok(&mut r3, &["GET", "console:greeting"]);
        async move { Ok((v.as_deref() == Some("edited in the browser")).then_some(())) }
    })
    .await
}

async fn charts_view(c: &Client) -> Outcome {
    click(c, "#tabs button[data-view=charts]").await?;
    until("seven charts with data", || async {
        let charts = count(c, "#charts-view .uplot").await?;
        let series = count(c, "#chart-ops .u-legend .u-series").await?;
        // The family series appear once commands have been counted.
        Ok((charts == 7 && series > 1).then_some(()))
    })
    .await?;
    // A few seconds of history.
    tokio::time::sleep(Duration::from_secs(3)).await;
    screenshot(c, "charts").await
}

async fn partition_view(c: &Client, cluster: &TestCluster) -> Outcome {
    click(c, "#tabs button[data-view=regions]").await?;
    cluster.link(0, 1).set_mode(Mode::Cut);
    let mut r = cluster.conn(0);
    let mut n = 0;
    until("the partition on the page", || {
        n += 1;
        let _: () = ok(&mut r, &["SET", &format!("while-cut:{n}"), "x"]);
        async {
            let banner = c
                .find(Locator::Css("#partition-banner"))
                .await
                .map_err(|e| e.to_string())?;
            let shown = banner.is_displayed().await.map_err(|e| e.to_string())?;
            let said = banner.text().await.map_err(|e| e.to_string())?;
            let red = count(c, "#mesh line.link-down").await?;
            let row = format!("#links-table tr[data-peer='{}']", cluster.name(1));
            let state = text(c, &format!("{row} td:nth-child(2)")).await?;
            let lag: u64 = text(c, &format!("{row} td:nth-child(3)"))
                .await?
                .parse()
                .unwrap_or(0);
            Ok(
                (shown && said.contains(cluster.name(1)) && red == 1 && state == "down" && lag > 0)
                    .then_some(()),
            )
        }
    })
    .await?;
    screenshot(c, "partition").await?;
    cluster.link(0, 1).set_mode(Mode::Pass);
    until("the link healed", || async {
        Ok((count(c, "#mesh line.link-up").await? == 2).then_some(()))
    })
    .await
}

async fn modules_view(c: &Client, cluster: &TestCluster) -> Outcome {
    let component = meridian_tests::examples::wasm_path("hello-edge");
    click(c, "#tabs button[data-view=modules]").await?;
    type_into(c, "#deploy-name", "hello").await?;
    type_into(c, "#deploy-route", "/hello-from-console").await?;
    c.find(Locator::Css("#deploy-file"))
        .await
        .map_err(|e| e.to_string())?
        .send_keys(&component.display().to_string())
        .await
        .map_err(|e| format!("choose the component: {e}"))?;
    click(c, "#deploy-submit").await?;
    until("the deploy to finish", || async {
        let status = text(c, "#deploy-status").await?;
        let error = text(c, "#modules-error").await?;
        if !error.is_empty() {
            return Err(format!("deploy failed: {error}"));
        }
        Ok(status.contains("Deployed hello").then_some(()))
    })
    .await?;
    // Deployed from region 1's page, it answers in every region.
    for i in 0..cluster.len() {
        let http = cluster.http_addr(i).ok_or("no edge listener")?;
        until("the module over HTTP", || async move {
            Ok((get(http, "/hello-from-console", &[]).status == 200).then_some(()))
        })
        .await?;
    }
    until("its invocations and p99 on the page", || async {
        let row = "#modules-table tr[data-module='hello']";
        let source = text(c, &format!("{row} td:nth-child(4)")).await?;
        let calls = text(c, &format!("{row} td:nth-child(5)")).await?;
        let p99: f64 = text(c, &format!("{row} td:nth-child(7)"))
            .await?
            .parse()
            .unwrap_or(0.0);
        Ok((source.contains("deployed by region 1") && calls == "1" && p99 > 0.0).then_some(()))
    })
    .await?;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    screenshot(c, "modules").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_shows_regions_keys_partitions_and_deploys_modules() {
    let cluster = TestCluster::start_with(3, |c| {
        c.metrics_port = Some(0);
        c.http_port = Some(0);
    });
    let console = cluster.admin_addr(0).expect("admin endpoint");
    let driver = Driver::start();
    let profile = TempDir::new("console-chromium");
    let browser = driver.browser(profile.path()).await;
    let outcome = async {
        regions_view(&browser, &cluster, console).await?;
        keys_view(&browser, &cluster).await?;
        charts_view(&browser).await?;
        partition_view(&browser, &cluster).await?;
        modules_view(&browser, &cluster).await
    }
    .await;
    if outcome.is_err() {
        let _ = screenshot(&browser, "failure").await;
    }
    // Closing the session ends Chromium before the driver goes.
    let _ = browser.close().await;
    drop(driver);
    if let Err(e) = outcome {
        panic!("{e}");
    }
}
