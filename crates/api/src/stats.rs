//! Statistics over HTTP: disclosure-controlled tables (JSON or CSV), SVG charts and a printable
//! report for a period. Supervisors and admins; every figure comes from clear statistical
//! fields and passes the k rule first.

use actix_web::{web, HttpResponse};
use domain::stats::{protect, Cell, Published};
use persistence::stats::{Period, StatsQuery, CALL_DIMENSIONS, TABLES};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::auth::Session;
use crate::lifecycle::escape;
use crate::ApiError;

/// The k rule's thresholds.
#[derive(Debug, Clone, Copy)]
pub struct StatsSettings {
    /// For use inside the organisation (the API).
    pub k_internal: u64,
    /// For anything exported (`hotline stats export`, and the API when asked for it).
    pub k_export: u64,
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct StatsParams {
    /// First day, YYYY-MM-DD (UTC); default a year before `to`.
    from: Option<String>,
    /// Day after the last, YYYY-MM-DD (UTC); default tomorrow.
    to: Option<String>,
    /// For calls: day, week, month (default), quarter or year.
    period: Option<String>,
    /// For calls: topic (default), channel, region, caller_role or outcome.
    by: Option<String>,
    /// A larger k than the organisation's (never a smaller one).
    k: Option<u64>,
    /// json (default) or csv.
    format: Option<String>,
}

/// Midnight UTC of a YYYY-MM-DD day, in microseconds.
pub fn day_micros(field: &'static str, day: &str) -> Result<i64, ApiError> {
    chrono::NaiveDate::parse_from_str(day, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc().timestamp_micros())
        .ok_or_else(|| ApiError::invalid_field(field, "must be a date as YYYY-MM-DD"))
}

struct Request {
    query: StatsQuery,
    k: u64,
    csv: bool,
}

fn parse(table: &str, p: StatsParams, settings: StatsSettings) -> Result<Request, ApiError> {
    if !TABLES.contains(&table) {
        return Err(ApiError::not_found());
    }
    let to = match &p.to {
        Some(d) => day_micros("to", d)?,
        None => (chrono::Utc::now().date_naive() + chrono::Duration::days(1))
            .and_hms_opt(0, 0, 0)
            .map(|t| t.and_utc().timestamp_micros())
            .unwrap_or(i64::MAX),
    };
    let from = match &p.from {
        Some(d) => day_micros("from", d)?,
        None => to - 365 * 86_400_000_000,
    };
    if from >= to {
        return Err(ApiError::invalid_field("to", "must be after from"));
    }
    let period = match p.period.as_deref() {
        None => Period::Month,
        Some(s) => Period::parse(s).ok_or_else(|| {
            ApiError::invalid_field("period", "must be day, week, month, quarter or year")
        })?,
    };
    let by = p.by.unwrap_or_else(|| "topic".into());
    if !CALL_DIMENSIONS.contains(&by.as_str()) {
        return Err(ApiError::invalid_field(
            "by",
            "must be topic, channel, region, caller_role or outcome",
        ));
    }
    let csv = match p.format.as_deref() {
        None | Some("json") => false,
        Some("csv") => true,
        Some(_) => return Err(ApiError::invalid_field("format", "must be json or csv")),
    };
    Ok(Request {
        query: StatsQuery {
            table: table.to_string(),
            from,
            to,
            period,
            by,
        },
        k: p.k.unwrap_or(settings.k_internal).max(settings.k_internal),
        csv,
    })
}

/// A count, or "suppressed" where it is below k or would let one be worked out.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(untagged)]
pub(crate) enum CellOut {
    Count(u64),
    /// Always "suppressed".
    Suppressed(&'static str),
}

impl From<&Cell> for CellOut {
    fn from(c: &Cell) -> Self {
        match c {
            Cell::Value(v) => CellOut::Count(*v),
            Cell::Suppressed => CellOut::Suppressed("suppressed"),
        }
    }
}

/// A published statistics table: rows by columns of counts, with totals.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct PublishedBody<'a> {
    table: &'a str,
    /// The smallest count shown.
    k: u64,
    rows: &'a [String],
    cols: &'a [String],
    /// One list per row, one cell per column.
    cells: Vec<Vec<CellOut>>,
    row_totals: Vec<CellOut>,
    col_totals: Vec<CellOut>,
    total: CellOut,
}

impl<'a> PublishedBody<'a> {
    fn new(name: &'a str, p: &'a Published) -> Self {
        let cells = |c: &[Cell]| c.iter().map(CellOut::from).collect::<Vec<_>>();
        PublishedBody {
            table: name,
            k: p.k,
            rows: &p.rows,
            cols: &p.cols,
            cells: p.cells.iter().map(|r| cells(r)).collect(),
            row_totals: cells(&p.row_totals),
            col_totals: cells(&p.col_totals),
            total: CellOut::from(&p.total),
        }
    }
}

/// A published table as JSON, as the API gives it (for the command line's report).
pub fn published_json(name: &str, p: &Published) -> Value {
    serde_json::to_value(PublishedBody::new(name, p)).unwrap_or(Value::Null)
}

/// One table, counted and protected; whether CSV was asked for. The parameters are read after
/// the caller is judged (401 and 403 for the session before any 404 or 422).
async fn protected(
    session: Session,
    table: String,
    params: StatsParams,
) -> Result<(Published, bool), ApiError> {
    session
        .run(move |vault, s, actor| {
            let request = parse(&table, params, s.stats)?;
            let counted = vault.stats_table(&s.db, actor, &request.query)?;
            Ok((protect(&counted, request.k), request.csv))
        })
        .await
}

#[utoipa::path(get, path = "/api/v1/stats/{table}", tag = "statistics", security(("bearer" = [])),
    params(("table" = String, Path, description = "calls, cases_by_status, cases_by_exploitation, cases_by_gender_and_age, cases_by_nationality, cases_by_country, referrals_by_service, referral_days_to_accept, plan_items"), StatsParams),
    responses((status = 200, description = "The table with every count below k suppressed, and complementary suppression so none can be worked out (JSON, or CSV with format=csv)",
                content((PublishedBody = "application/json"), (String = "text/csv"))),
              (status = 401, description = "Not signed in"), (status = 403, description = "Supervisors and admins only"),
              (status = 404, description = "No such table"), (status = 422, description = "Invalid parameters, named")))]
pub(crate) async fn table(
    session: Session,
    name: web::Path<String>,
    params: web::Query<StatsParams>,
) -> Result<HttpResponse, ApiError> {
    let name = name.into_inner();
    let (published, csv) = protected(session, name.clone(), params.into_inner()).await?;
    if csv {
        Ok(HttpResponse::Ok()
            .content_type("text/csv; charset=utf-8")
            .insert_header((
                "Content-Disposition",
                format!("attachment; filename=\"{name}.csv\""),
            ))
            .body(published.to_csv(&name)))
    } else {
        Ok(HttpResponse::Ok().json(PublishedBody::new(&name, &published)))
    }
}

/// What a chart says of suppressed counts, in the reader's language.
pub struct ChartWords {
    /// Beside a suppressed bar.
    pub bar: String,
    /// Under a chart with suppressed parts.
    pub note: String,
}

impl ChartWords {
    /// In English, for `k` (the API's charts and the printable report).
    pub fn english(k: u64) -> Self {
        ChartWords {
            bar: format!("suppressed (fewer than {k} or protecting one)"),
            note: format!("* some counts suppressed (below {k} or protecting one)"),
        }
    }
}

/// A horizontal bar chart of one column of a published table (its row totals when `column` is
/// None). Suppressed bars are drawn hatched at no length and labelled.
pub fn bar_chart(title: &str, p: &Published, column: Option<usize>, words: &ChartWords) -> String {
    let values: Vec<(String, Cell)> = p
        .rows
        .iter()
        .enumerate()
        .map(|(i, r)| {
            (
                r.clone(),
                match column {
                    Some(j) => p.cells[i][j],
                    None => p.row_totals[i],
                },
            )
        })
        .filter(|(_, c)| *c != Cell::Value(0))
        .collect();
    let max = values
        .iter()
        .filter_map(|(_, c)| c.value())
        .max()
        .unwrap_or(1)
        .max(1);
    let (w, bar_h, left) = (640.0, 22.0, 190.0);
    let h = 40.0 + bar_h * values.len() as f64 + 10.0;
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" font-family=\"sans-serif\" font-size=\"12\">\
         <title>{t}</title><text x=\"10\" y=\"22\" font-size=\"15\" font-weight=\"bold\">{t}</text>",
        t = escape(title)
    );
    for (n, (label, cell)) in values.iter().enumerate() {
        let y = 36.0 + bar_h * n as f64;
        svg.push_str(&format!(
            "<text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>",
            left - 8.0,
            y + 15.0,
            escape(label)
        ));
        match cell.value() {
            Some(v) => {
                let len = (w - left - 70.0) * v as f64 / max as f64;
                svg.push_str(&format!(
                    "<rect x=\"{left}\" y=\"{y}\" width=\"{len:.1}\" height=\"{}\" fill=\"#3b6ea5\"/>\
                     <text x=\"{:.1}\" y=\"{}\">{v}</text>",
                    bar_h - 6.0,
                    left + len + 5.0,
                    y + 15.0
                ));
            }
            None => svg.push_str(&format!(
                "<text x=\"{left}\" y=\"{}\" fill=\"#777\">{}</text>",
                y + 15.0,
                escape(&words.bar)
            )),
        }
    }
    svg.push_str("</svg>\n");
    svg
}

const PALETTE: [&str; 10] = [
    "#3b6ea5", "#e07b39", "#5aa469", "#c44e52", "#8172b2", "#937860", "#da8bc3", "#8c8c8c",
    "#ccb974", "#64b5cd",
];

/// A stacked bar per row (a month), one segment per column (a topic), with a legend. Suppressed
/// cells are left out of their bar, which is then marked with an asterisk.
pub fn stacked_chart(title: &str, p: &Published, words: &ChartWords) -> String {
    let totals: Vec<u64> = (0..p.rows.len())
        .map(|i| p.cells[i].iter().filter_map(|c| c.value()).sum())
        .collect();
    let max = totals.iter().copied().max().unwrap_or(1).max(1);
    let (w, bar_h, left) = (640.0, 22.0, 90.0);
    // The legend in as many columns as its longest label leaves room for (at most three).
    let longest = p.cols.iter().map(|c| c.chars().count()).max().unwrap_or(1);
    let per_row = ((620.0 / (longest as f64 * 7.0 + 24.0)) as usize).clamp(1, 3);
    let col_w = 620.0 / per_row as f64;
    let legend_h = 18.0 * p.cols.len().div_ceil(per_row) as f64;
    let h = 40.0 + bar_h * p.rows.len() as f64 + 20.0 + legend_h;
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" font-family=\"sans-serif\" font-size=\"12\">\
         <title>{t}</title><text x=\"10\" y=\"22\" font-size=\"15\" font-weight=\"bold\">{t}</text>",
        t = escape(title)
    );
    for (i, row) in p.rows.iter().enumerate() {
        let y = 36.0 + bar_h * i as f64;
        let partial = p.cells[i].contains(&Cell::Suppressed);
        svg.push_str(&format!(
            "<text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}{}</text>",
            left - 8.0,
            y + 15.0,
            escape(row),
            if partial { "*" } else { "" }
        ));
        let mut x = left;
        for (j, cell) in p.cells[i].iter().enumerate() {
            if let Some(v) = cell.value().filter(|v| *v > 0) {
                let len = (w - left - 20.0) * v as f64 / max as f64;
                svg.push_str(&format!(
                    "<rect x=\"{x:.1}\" y=\"{y}\" width=\"{len:.1}\" height=\"{}\" fill=\"{}\"><title>{}: {v}</title></rect>",
                    bar_h - 6.0,
                    PALETTE[j % PALETTE.len()],
                    escape(&p.cols[j])
                ));
                x += len;
            }
        }
    }
    let ly = 36.0 + bar_h * p.rows.len() as f64 + 10.0;
    for (j, col) in p.cols.iter().enumerate() {
        let (lx, y) = (
            10.0 + col_w * (j % per_row) as f64,
            ly + 18.0 * (j / per_row) as f64,
        );
        svg.push_str(&format!(
            "<rect x=\"{lx}\" y=\"{y}\" width=\"10\" height=\"10\" fill=\"{}\"/><text x=\"{}\" y=\"{}\">{}</text>",
            PALETTE[j % PALETTE.len()],
            lx + 14.0,
            y + 9.0,
            escape(col)
        ));
    }
    svg.push_str(&format!(
        "<text x=\"10\" y=\"{}\" fill=\"#777\">{}</text></svg>\n",
        h - 4.0,
        escape(&words.note)
    ));
    svg
}

/// The charts the API serves: (name, table, title).
const CHARTS: [(&str, &str, &str); 3] = [
    ("calls-by-topic", "calls", "Calls per month by topic"),
    (
        "cases-by-exploitation",
        "cases_by_exploitation",
        "Cases by form of exploitation",
    ),
    (
        "referral-funnel",
        "referrals_by_service",
        "Referrals by status",
    ),
];

async fn chart_svg(session: Session, name: &str, params: StatsParams) -> Result<String, ApiError> {
    // An unknown chart is no table: `parse` answers 404 after the caller is judged.
    let (_, table, title) = CHARTS
        .iter()
        .find(|(n, ..)| *n == name)
        .copied()
        .unwrap_or(("", "", ""));
    let (published, _) = protected(session, table.to_string(), params).await?;
    Ok(draw(
        table,
        title,
        &published,
        &ChartWords::english(published.k),
    ))
}

/// The chart of one of [`CHARTS`]' tables, protected already.
fn draw(table: &str, title: &str, published: &Published, words: &ChartWords) -> String {
    match table {
        "calls" => stacked_chart(title, published, words),
        // The funnel: each status is one bar of its total.
        "referrals_by_service" => bar_chart(title, &transpose(published), None, words),
        _ => bar_chart(title, published, None, words),
    }
}

fn transpose(p: &Published) -> Published {
    Published {
        k: p.k,
        rows: p.cols.clone(),
        cols: p.rows.clone(),
        cells: (0..p.cols.len())
            .map(|j| p.cells.iter().map(|r| r[j]).collect())
            .collect(),
        row_totals: p.col_totals.clone(),
        col_totals: p.row_totals.clone(),
        total: p.total,
    }
}

#[utoipa::path(get, path = "/api/v1/stats/charts/{chart}", tag = "statistics", security(("bearer" = [])),
    params(("chart" = String, Path, description = "calls-by-topic, cases-by-exploitation or referral-funnel"), StatsParams),
    responses((status = 200, description = "An SVG chart of the protected table", body = String, content_type = "image/svg+xml"),
              (status = 401, description = "Not signed in"), (status = 403, description = "Supervisors and admins only"),
              (status = 404, description = "No such chart")))]
pub(crate) async fn chart(
    session: Session,
    name: web::Path<String>,
    params: web::Query<StatsParams>,
) -> Result<HttpResponse, ApiError> {
    let name = name.trim_end_matches(".svg").to_string();
    let svg = chart_svg(session, &name, params.into_inner()).await?;
    Ok(HttpResponse::Ok()
        .content_type("image/svg+xml")
        .insert_header((
            "Content-Security-Policy",
            "default-src 'none'; style-src 'unsafe-inline'",
        ))
        .body(svg))
}

fn html_table(name: &str, p: &Published) -> String {
    let show = |c: &Cell| match c {
        Cell::Value(v) => v.to_string(),
        Cell::Suppressed => "<i>suppressed</i>".to_string(),
    };
    let mut out = format!(
        "<h2>{}</h2><table><tr><th></th>",
        escape(&name.replace('_', " "))
    );
    for c in &p.cols {
        out.push_str(&format!("<th>{}</th>", escape(c)));
    }
    out.push_str("<th>total</th></tr>");
    for (i, r) in p.rows.iter().enumerate() {
        out.push_str(&format!("<tr><th>{}</th>", escape(r)));
        for c in &p.cells[i] {
            out.push_str(&format!("<td>{}</td>", show(c)));
        }
        out.push_str(&format!("<td>{}</td></tr>", show(&p.row_totals[i])));
    }
    out.push_str("<tr><th>total</th>");
    for c in &p.col_totals {
        out.push_str(&format!("<td>{}</td>", show(c)));
    }
    out.push_str(&format!("<td>{}</td></tr></table>", show(&p.total)));
    out
}

/// The tables of the report listed under its charts.
const LISTED: [&str; 4] = [
    "cases_by_status",
    "cases_by_gender_and_age",
    "referrals_by_service",
    "plan_items",
];

/// The report's tables for a period: the charts' tables, then the listed ones, counted under
/// one policy decision and one audit event; with the period and k they were published for.
pub(crate) struct Report {
    pub tables: Vec<domain::stats::Table>,
    pub from: i64,
    pub to: i64,
    pub k: u64,
}

impl Report {
    /// Counts the report's tables for `params` (the period and k only).
    pub(crate) fn count(
        vault: &persistence::Vault,
        s: &crate::Services,
        actor: &persistence::identity::Actor,
        params: StatsParams,
    ) -> Result<Report, ApiError> {
        let head = parse("calls", params, s.stats)?;
        let (from, to, k) = (head.query.from, head.query.to, head.k);
        let query = |table: &str| StatsQuery {
            table: table.to_string(),
            from,
            to,
            period: Period::Month,
            by: "topic".into(),
        };
        let queries: Vec<StatsQuery> = CHARTS
            .iter()
            .map(|(_, table, _)| query(table))
            .chain(LISTED.iter().map(|table| query(table)))
            .collect();
        let tables = vault.stats_tables(&s.db, actor, &queries)?;
        Ok(Report {
            tables,
            from,
            to,
            k,
        })
    }

    /// The charts (their id and SVG), each of its table protected by the k rule.
    pub(crate) fn charts(&self) -> Vec<(&'static str, String)> {
        let words = ChartWords::english(self.k);
        self.charts_with(
            |_, title| title.to_string(),
            |code| code.to_string(),
            &words,
        )
    }

    /// The charts with their titles (`title(id, English title)`) and the rows' and columns'
    /// codes (`label`) in a page's language; the figures exactly as [`Report::charts`].
    pub(crate) fn charts_with(
        &self,
        title: impl Fn(&str, &str) -> String,
        label: impl Fn(&str) -> String,
        words: &ChartWords,
    ) -> Vec<(&'static str, String)> {
        CHARTS
            .iter()
            .zip(&self.tables)
            .map(|((name, table, english), counted)| {
                let mut published = protect(counted, self.k);
                for code in published.rows.iter_mut().chain(published.cols.iter_mut()) {
                    *code = label(code);
                }
                (*name, draw(table, &title(name, english), &published, words))
            })
            .collect()
    }

    /// The listed tables (name, protected).
    pub(crate) fn listed(&self) -> Vec<(&'static str, Published)> {
        LISTED
            .iter()
            .zip(&self.tables[CHARTS.len()..])
            .map(|(table, counted)| (*table, protect(counted, self.k)))
            .collect()
    }

    /// The printable HTML document (its own inline style, no script).
    pub(crate) fn response(&self) -> HttpResponse {
        let day = |us: i64| {
            chrono::DateTime::from_timestamp_micros(us)
                .map(|t| t.format("%Y-%m-%d").to_string())
                .unwrap_or_default()
        };
        let mut body = String::new();
        for (name, chart) in self.charts() {
            body.push_str(&format!("<figure id=\"{name}\">{chart}</figure>"));
        }
        for (table, published) in self.listed() {
            body.push_str(&html_table(table, &published));
        }
        let html = format!(
            "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Hotline report {f} to {t}</title>\
             <style>body{{font-family:sans-serif;max-width:60em;margin:2em auto}}table{{border-collapse:collapse;margin:1em 0}}\
             td,th{{border:1px solid #ccc;padding:.2em .5em;text-align:right}}@media print{{figure{{break-inside:avoid}}}}</style></head>\
             <body><h1>Hotline report</h1><p>From {f} to {t} (the day before). Every count below {k} is suppressed, and others where \
             needed so that none can be worked out; figures come only from statistical fields.</p>{body}</body></html>\n",
            f = day(self.from),
            t = day(self.to),
            k = self.k,
        );
        HttpResponse::Ok()
            .content_type("text/html; charset=utf-8")
            .insert_header((
                "Content-Security-Policy",
                "default-src 'none'; style-src 'unsafe-inline'",
            ))
            .body(html)
    }
}

impl StatsParams {
    /// The parameters of a period (days as YYYY-MM-DD), the rest as the defaults.
    pub(crate) fn period(from: Option<String>, to: Option<String>) -> Self {
        StatsParams {
            from,
            to,
            period: None,
            by: None,
            k: None,
            format: None,
        }
    }
}

#[utoipa::path(get, path = "/api/v1/stats/report", tag = "statistics", security(("bearer" = [])), params(StatsParams),
    responses((status = 200, description = "A printable HTML report of the period for donors: the protected tables and charts", body = String, content_type = "text/html"),
              (status = 401, description = "Not signed in"), (status = 403, description = "Supervisors and admins only")))]
pub(crate) async fn report(
    session: Session,
    params: web::Query<StatsParams>,
) -> Result<HttpResponse, ApiError> {
    let report = session
        .run(move |vault, s, actor| Report::count(vault, s, actor, params.into_inner()))
        .await?;
    Ok(report.response())
}
