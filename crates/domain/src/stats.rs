//! Disclosure control for published statistics: small-cell suppression with complementary
//! suppression, so that no count between 1 and k-1 is shown and none can be worked out from the
//! row, column and grand totals that are shown.
//!
//! The method: every inner cell and every total with 1 <= count < k is suppressed (primary).
//! Then, until nothing changes: a row or column (with its total) that has exactly one suppressed
//! member gets a second one (its smallest non-zero published cell, else its total); and for
//! every suppressed value the range an attacker can derive (each suppressed value is known only
//! to be at least 1; every row, column and the grand total add up) is computed by interval
//! propagation, by echelon form, and exactly by linear programming. A value pinned down is
//! suppressed around further (in its lines, else the smallest published total). Zeros are
//! published as zeros (nobody); suppressed cells are published as "suppressed", never as zero.
//! A property test checks the result against an exhaustive search of every table the published
//! figures allow.

/// A two-way table of counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table {
    pub rows: Vec<String>,
    pub cols: Vec<String>,
    /// `cells[row][col]`
    pub cells: Vec<Vec<u64>>,
}

/// A published cell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cell {
    Value(u64),
    Suppressed,
}

impl Cell {
    pub fn value(self) -> Option<u64> {
        match self {
            Cell::Value(v) => Some(v),
            Cell::Suppressed => None,
        }
    }
}

/// A table as it may be published.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Published {
    pub k: u64,
    pub rows: Vec<String>,
    pub cols: Vec<String>,
    pub cells: Vec<Vec<Cell>>,
    pub row_totals: Vec<Cell>,
    pub col_totals: Vec<Cell>,
    pub total: Cell,
}

impl Table {
    pub fn row_total(&self, i: usize) -> u64 {
        self.cells[i].iter().sum()
    }

    pub fn col_total(&self, j: usize) -> u64 {
        self.cells.iter().map(|r| r[j]).sum()
    }

    pub fn total(&self) -> u64 {
        self.cells.iter().flatten().sum()
    }
}

/// The variables of a table: inner cells, then row totals, then column totals, then the grand
/// total. Each line says: the first variable equals the sum of the rest.
struct Layout {
    n_rows: usize,
    n_cols: usize,
}

impl Layout {
    fn cell(&self, i: usize, j: usize) -> usize {
        i * self.n_cols + j
    }
    fn row_total(&self, i: usize) -> usize {
        self.n_rows * self.n_cols + i
    }
    fn col_total(&self, j: usize) -> usize {
        self.n_rows * self.n_cols + self.n_rows + j
    }
    fn grand(&self) -> usize {
        self.n_rows * self.n_cols + self.n_rows + self.n_cols
    }
    fn len(&self) -> usize {
        self.grand() + 1
    }
    /// (total, parts) for every additive relation of the table.
    fn lines(&self) -> Vec<(usize, Vec<usize>)> {
        let mut lines = Vec::new();
        for i in 0..self.n_rows {
            lines.push((
                self.row_total(i),
                (0..self.n_cols).map(|j| self.cell(i, j)).collect(),
            ));
        }
        for j in 0..self.n_cols {
            lines.push((
                self.col_total(j),
                (0..self.n_rows).map(|i| self.cell(i, j)).collect(),
            ));
        }
        lines.push((
            self.grand(),
            (0..self.n_rows).map(|i| self.row_total(i)).collect(),
        ));
        lines.push((
            self.grand(),
            (0..self.n_cols).map(|j| self.col_total(j)).collect(),
        ));
        lines
    }
}

/// The bounds an attacker can derive for each value, by propagation over the table's sums:
/// published values are exact, suppressed ones at least 1.
fn bounds(values: &[u64], suppressed: &[bool], lines: &[(usize, Vec<usize>)]) -> Vec<(u64, u64)> {
    let cap = values.iter().copied().max().unwrap_or(0).saturating_mul(4) + 1_000;
    let mut b: Vec<(u64, u64)> = values
        .iter()
        .zip(suppressed)
        .map(|(v, s)| if *s { (1, cap) } else { (*v, *v) })
        .collect();
    for _ in 0..200 {
        let mut changed = false;
        for (total, parts) in lines {
            let lo_sum: u64 = parts.iter().map(|p| b[*p].0).sum();
            let hi_sum: u64 = parts
                .iter()
                .map(|p| b[*p].1)
                .fold(0u64, u64::saturating_add);
            let (tlo, thi) = b[*total];
            let nlo = tlo.max(lo_sum);
            let nhi = thi.min(hi_sum);
            if (nlo, nhi) != (tlo, thi) && nlo <= nhi {
                b[*total] = (nlo, nhi);
                changed = true;
            }
            let (tlo, thi) = b[*total];
            for p in parts {
                let others_lo = lo_sum - b[*p].0;
                let others_hi = hi_sum.saturating_sub(b[*p].1);
                let plo = b[*p].0.max(tlo.saturating_sub(others_hi));
                let phi = b[*p].1.min(thi.saturating_sub(others_lo));
                if (plo, phi) != b[*p] && plo <= phi {
                    b[*p] = (plo, phi);
                    changed = true;
                }
            }
        }
        if !changed {
            break;
        }
    }
    b
}

/// The hidden values the published figures pin down by linear algebra alone: the table's sums
/// are linear equations over the hidden values; a hidden value is determined when, in the
/// reduced row echelon form of those equations, its column is a pivot whose row involves no
/// free (undetermined) column. (Bounds can pin down more; [`bounds`] catches those.)
// Row operations read one row of a matrix while writing another: index loops are the clear way.
#[allow(clippy::needless_range_loop)]
fn determined(suppressed: &[bool], lines: &[(usize, Vec<usize>)]) -> Vec<bool> {
    let unknown: Vec<usize> = (0..suppressed.len()).filter(|v| suppressed[*v]).collect();
    let col_of = |v: usize| unknown.iter().position(|u| *u == v);
    let mut rows: Vec<Vec<f64>> = lines
        .iter()
        .map(|(total, parts)| {
            let mut row = vec![0.0; unknown.len()];
            if let Some(c) = col_of(*total) {
                row[c] += 1.0;
            }
            for p in parts {
                if let Some(c) = col_of(*p) {
                    row[c] -= 1.0;
                }
            }
            row
        })
        .filter(|r| r.iter().any(|x| *x != 0.0))
        .collect();
    let (n_rows, n_cols) = (rows.len(), unknown.len());
    let mut pivots: Vec<(usize, usize)> = Vec::new();
    let mut r = 0;
    for c in 0..n_cols {
        let Some(p) = (r..n_rows).max_by(|a, b| rows[*a][c].abs().total_cmp(&rows[*b][c].abs()))
        else {
            break;
        };
        if rows[p][c].abs() < 1e-9 {
            continue;
        }
        rows.swap(r, p);
        let pivot = rows[r][c];
        for x in rows[r].iter_mut() {
            *x /= pivot;
        }
        for i in 0..n_rows {
            if i != r && rows[i][c].abs() > 1e-12 {
                let f = rows[i][c];
                for j in 0..n_cols {
                    rows[i][j] -= f * rows[r][j];
                }
            }
        }
        pivots.push((r, c));
        r += 1;
        if r == n_rows {
            break;
        }
    }
    let pivot_cols: Vec<usize> = pivots.iter().map(|(_, c)| *c).collect();
    let mut out = vec![false; suppressed.len()];
    for (row, col) in pivots {
        let alone =
            (0..n_cols).all(|j| j == col || pivot_cols.contains(&j) || rows[row][j].abs() < 1e-9);
        if alone {
            out[unknown[col]] = true;
        }
    }
    out
}

/// Minimises `c·y` subject to `A y = b`, `y >= 0` (dense simplex, Bland's rule, two phases).
/// `None` when unbounded below (or infeasible, which cannot happen here: the true table is a
/// solution).
#[allow(clippy::needless_range_loop)]
fn simplex_min(a: &[Vec<f64>], b: &[f64], c: &[f64]) -> Option<f64> {
    const EPS: f64 = 1e-9;
    let (m, n) = (a.len(), c.len());
    // Tableau with artificials: columns 0..n are y, n..n+m artificials, last is the RHS.
    let width = n + m + 1;
    let mut t: Vec<Vec<f64>> = (0..m)
        .map(|i| {
            let sign = if b[i] < 0.0 { -1.0 } else { 1.0 };
            let mut row = vec![0.0; width];
            for j in 0..n {
                row[j] = sign * a[i][j];
            }
            row[n + i] = 1.0;
            row[width - 1] = sign * b[i];
            row
        })
        .collect();
    let mut basis: Vec<usize> = (n..n + m).collect();
    let pivot = |t: &mut Vec<Vec<f64>>, basis: &mut Vec<usize>, r: usize, col: usize| {
        let p = t[r][col];
        for x in t[r].iter_mut() {
            *x /= p;
        }
        for i in 0..t.len() {
            if i != r && t[i][col].abs() > EPS {
                let f = t[i][col];
                for j in 0..width {
                    t[i][j] -= f * t[r][j];
                }
            }
        }
        basis[r] = col;
    };
    // Runs the simplex on cost vector `cost` (length n + m) over allowed columns.
    let run = |t: &mut Vec<Vec<f64>>,
               basis: &mut Vec<usize>,
               cost: &[f64],
               allowed: usize|
     -> Option<()> {
        for _ in 0..10_000 {
            // Reduced costs.
            let entering = (0..allowed).find(|&j| {
                if basis.contains(&j) {
                    return false;
                }
                let z: f64 = (0..m).map(|i| cost[basis[i]] * t[i][j]).sum();
                cost[j] - z < -EPS
            });
            let Some(col) = entering else { return Some(()) };
            let mut best: Option<(usize, f64)> = None;
            for i in 0..m {
                if t[i][col] > EPS {
                    let ratio = t[i][width - 1] / t[i][col];
                    if best.is_none_or(|(bi, br)| {
                        ratio < br - EPS || (ratio < br + EPS && basis[i] < basis[bi])
                    }) {
                        best = Some((i, ratio));
                    }
                }
            }
            let (r, _) = best?;
            pivot(t, basis, r, col);
        }
        Some(())
    };
    // Phase 1: minimise the artificials.
    let mut cost1 = vec![0.0; n + m];
    for c1 in cost1.iter_mut().skip(n) {
        *c1 = 1.0;
    }
    run(&mut t, &mut basis, &cost1, n + m)?;
    // Drive artificials out of the basis where possible.
    for r in 0..m {
        if basis[r] >= n {
            if let Some(col) = (0..n).find(|&j| t[r][j].abs() > EPS && !basis.contains(&j)) {
                pivot(&mut t, &mut basis, r, col);
            }
        }
    }
    // Phase 2 over the real columns (artificials still basic sit at zero in redundant rows).
    let mut cost2 = vec![0.0; n + m];
    cost2[..n].copy_from_slice(c);
    run(&mut t, &mut basis, &cost2, n)?;
    Some((0..m).map(|i| cost2[basis[i]] * t[i][width - 1]).sum())
}

/// The hidden values the published figures pin down, exactly: for each hidden value, the
/// smallest and largest it can be over every table (real-valued; the table's sums make the
/// extreme points whole numbers) that agrees with what is published, each hidden value being at
/// least 1. Pinned when they meet.
fn pinned_exactly(values: &[u64], suppressed: &[bool], lines: &[(usize, Vec<usize>)]) -> Vec<bool> {
    let unknown: Vec<usize> = (0..suppressed.len()).filter(|v| suppressed[*v]).collect();
    let col_of = |v: usize| unknown.iter().position(|u| *u == v);
    let n = unknown.len();
    let mut a = Vec::new();
    let mut b = Vec::new();
    for (total, parts) in lines {
        // total - sum(parts) = 0, with y = x - 1 for unknowns.
        let mut row = vec![0.0; n];
        let mut rhs = 0.0;
        let touch = |v: usize, coef: f64, row: &mut Vec<f64>, rhs: &mut f64| match col_of(v) {
            Some(c) => {
                row[c] += coef;
                *rhs -= coef; // the shift by 1
            }
            None => *rhs -= coef * values[v] as f64,
        };
        touch(*total, 1.0, &mut row, &mut rhs);
        for p in parts {
            touch(*p, -1.0, &mut row, &mut rhs);
        }
        if row.iter().any(|x| *x != 0.0) {
            a.push(row);
            b.push(rhs);
        }
    }
    let mut out = vec![false; suppressed.len()];
    for (k, v) in unknown.iter().enumerate() {
        let mut c = vec![0.0; n];
        c[k] = 1.0;
        let lo = simplex_min(&a, &b, &c);
        c[k] = -1.0;
        let hi = simplex_min(&a, &b, &c).map(|x| -x);
        if let (Some(lo), Some(hi)) = (lo, hi) {
            if (hi - lo).abs() < 0.5 {
                out[*v] = true;
            }
        }
    }
    out
}

/// Applies the k rule with complementary suppression.
pub fn protect(table: &Table, k: u64) -> Published {
    let layout = Layout {
        n_rows: table.rows.len(),
        n_cols: table.cols.len(),
    };
    let mut values = vec![0u64; layout.len()];
    for i in 0..layout.n_rows {
        for j in 0..layout.n_cols {
            values[layout.cell(i, j)] = table.cells[i][j];
        }
        values[layout.row_total(i)] = table.row_total(i);
    }
    for j in 0..layout.n_cols {
        values[layout.col_total(j)] = table.col_total(j);
    }
    values[layout.grand()] = table.total();
    let small = |v: u64| v >= 1 && v < k;
    let mut suppressed: Vec<bool> = values.iter().map(|v| small(*v)).collect();
    let lines = layout.lines();
    // Suppresses one more member of a line: its smallest published non-zero part, else its
    // total. Returns false when there is nothing left to suppress.
    let widen = |suppressed: &mut Vec<bool>, (total, parts): &(usize, Vec<usize>)| -> bool {
        let pick = parts
            .iter()
            .filter(|p| !suppressed[**p] && values[**p] > 0)
            .min_by_key(|p| values[**p]);
        match pick {
            Some(p) => {
                suppressed[*p] = true;
                true
            }
            None if !suppressed[*total] && values[*total] > 0 => {
                suppressed[*total] = true;
                true
            }
            None => false,
        }
    };
    for _ in 0..(layout.len() * 2 + 10) {
        let mut changed = false;
        for line in &lines {
            let (total, parts) = line;
            let hidden = parts.iter().filter(|p| suppressed[**p]).count();
            if !suppressed[*total] && hidden == 1 {
                changed |= widen(&mut suppressed, line);
            }
        }
        if changed {
            continue;
        }
        let b = bounds(&values, &suppressed, &lines);
        let mut pinned = determined(&suppressed, &lines);
        if !pinned.iter().any(|p| *p) {
            pinned = pinned_exactly(&values, &suppressed, &lines);
        }
        for v in 0..layout.len() {
            if suppressed[v] && (b[v].0 == b[v].1 || pinned[v]) {
                // Determined: hide more in a line through it...
                for line in lines
                    .iter()
                    .filter(|(t, parts)| *t == v || parts.contains(&v))
                {
                    if widen(&mut suppressed, line) {
                        changed = true;
                        break;
                    }
                }
                // ...or, when those lines have nothing left to hide, the smallest published
                // total (the equations that pin it down run through the totals).
                if !changed {
                    let total = (layout.n_rows * layout.n_cols..layout.len())
                        .filter(|t| !suppressed[*t] && values[*t] > 0)
                        .min_by_key(|t| values[*t]);
                    if let Some(t) = total {
                        suppressed[t] = true;
                        changed = true;
                    }
                }
            }
        }
        if !changed {
            break;
        }
    }
    let cell = |v: usize| {
        if suppressed[v] {
            Cell::Suppressed
        } else {
            Cell::Value(values[v])
        }
    };
    Published {
        k,
        rows: table.rows.clone(),
        cols: table.cols.clone(),
        cells: (0..layout.n_rows)
            .map(|i| {
                (0..layout.n_cols)
                    .map(|j| cell(layout.cell(i, j)))
                    .collect()
            })
            .collect(),
        row_totals: (0..layout.n_rows)
            .map(|i| cell(layout.row_total(i)))
            .collect(),
        col_totals: (0..layout.n_cols)
            .map(|j| cell(layout.col_total(j)))
            .collect(),
        total: cell(layout.grand()),
    }
}

/// One CSV field, quoted when it holds a comma, a quote or a line break (RFC 4180).
pub fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

impl Published {
    /// The table as CSV: a header of column labels and "total", one line per row, a totals
    /// line. Suppressed cells read `suppressed`.
    pub fn to_csv(&self, corner: &str) -> String {
        let field = csv_field;
        fn show(c: &Cell) -> String {
            match c {
                Cell::Value(v) => v.to_string(),
                Cell::Suppressed => "suppressed".into(),
            }
        }
        let mut out = field(corner);
        for c in &self.cols {
            out.push(',');
            out.push_str(&field(c));
        }
        out.push_str(",total\n");
        for (i, r) in self.rows.iter().enumerate() {
            out.push_str(&field(r));
            for c in &self.cells[i] {
                out.push(',');
                out.push_str(&show(c));
            }
            out.push(',');
            out.push_str(&show(&self.row_totals[i]));
            out.push('\n');
        }
        out.push_str("total");
        for c in &self.col_totals {
            out.push(',');
            out.push_str(&show(c));
        }
        out.push(',');
        out.push_str(&show(&self.total));
        out.push('\n');
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(cells: Vec<Vec<u64>>) -> Table {
        Table {
            rows: (0..cells.len()).map(|i| format!("r{i}")).collect(),
            cols: (0..cells[0].len()).map(|j| format!("c{j}")).collect(),
            cells,
        }
    }

    /// Every published figure an attacker sees, as (variable, value) constraints.
    fn published_values(p: &Published) -> Vec<Option<u64>> {
        let mut out: Vec<Option<u64>> = p.cells.iter().flatten().map(|c| c.value()).collect();
        out.extend(p.row_totals.iter().map(|c| c.value()));
        out.extend(p.col_totals.iter().map(|c| c.value()));
        out.push(p.total.value());
        out
    }

    /// For each suppressed inner cell, every value it can take in some table (non-negative
    /// integers, suppressed inner cells at least 1, bounded by `cap`) that agrees with
    /// everything published.
    fn possible_values(p: &Published, cap: u64) -> Vec<std::collections::BTreeSet<u64>> {
        let (n, m) = (p.rows.len(), p.cols.len());
        let shown = published_values(p);
        let hidden: Vec<(usize, usize)> = (0..n)
            .flat_map(|i| (0..m).map(move |j| (i, j)))
            .filter(|(i, j)| p.cells[*i][*j] == Cell::Suppressed)
            .collect();
        // One set per hidden inner cell, then one per total (filled for suppressed totals).
        let mut found = vec![std::collections::BTreeSet::new(); hidden.len() + n + m + 1];
        let mut grid: Vec<Vec<u64>> = p
            .cells
            .iter()
            .map(|r| r.iter().map(|c| c.value().unwrap_or(0)).collect())
            .collect();
        fn check(grid: &[Vec<u64>], shown: &[Option<u64>], n: usize, m: usize) -> bool {
            let mut idx = n * m;
            for row in grid {
                let t: u64 = row.iter().sum();
                if shown[idx].is_some_and(|v| v != t) || (shown[idx].is_none() && t == 0) {
                    return false;
                }
                idx += 1;
            }
            for j in 0..m {
                let t: u64 = grid.iter().map(|r| r[j]).sum();
                if shown[idx].is_some_and(|v| v != t) || (shown[idx].is_none() && t == 0) {
                    return false;
                }
                idx += 1;
            }
            let t: u64 = grid.iter().flatten().sum();
            !(shown[idx].is_some_and(|v| v != t) || (shown[idx].is_none() && t == 0))
        }
        #[allow(clippy::too_many_arguments)]
        fn search(
            k: usize,
            hidden: &[(usize, usize)],
            grid: &mut Vec<Vec<u64>>,
            shown: &[Option<u64>],
            n: usize,
            m: usize,
            cap: u64,
            found: &mut Vec<std::collections::BTreeSet<u64>>,
        ) {
            if k == hidden.len() {
                if check(grid, shown, n, m) {
                    for (h, (i, j)) in hidden.iter().enumerate() {
                        found[h].insert(grid[*i][*j]);
                    }
                    let base = hidden.len();
                    for (i, row) in grid.iter().enumerate() {
                        if shown[n * m + i].is_none() {
                            found[base + i].insert(row.iter().sum());
                        }
                    }
                    for j in 0..m {
                        if shown[n * m + n + j].is_none() {
                            found[base + n + j].insert(grid.iter().map(|r| r[j]).sum());
                        }
                    }
                    if shown[n * m + n + m].is_none() {
                        found[base + n + m].insert(grid.iter().flatten().sum());
                    }
                }
                return;
            }
            let (i, j) = hidden[k];
            for v in 1..=cap {
                grid[i][j] = v;
                // Prune: a published row or column total already exceeded.
                let row: u64 = grid[i].iter().sum();
                let col: u64 = grid.iter().map(|r| r[j]).sum();
                if shown[n * m + i].is_some_and(|t| row > t)
                    || shown[n * m + n + j].is_some_and(|t| col > t)
                {
                    break;
                }
                search(k + 1, hidden, grid, shown, n, m, cap, found);
            }
            grid[i][j] = 0;
        }
        search(0, &hidden, &mut grid, &shown, n, m, cap, &mut found);
        found
    }

    #[test]
    fn a_lone_small_cell_takes_a_partner_in_its_row_and_column() {
        let t = table(vec![vec![20, 3, 15], vec![12, 30, 9], vec![7, 8, 40]]);
        let p = protect(&t, 5);
        assert_eq!(p.cells[0][1], Cell::Suppressed);
        let row0 = p.cells[0]
            .iter()
            .filter(|c| **c == Cell::Suppressed)
            .count();
        let col1 = p.cells.iter().filter(|r| r[1] == Cell::Suppressed).count();
        assert!(row0 >= 2 && col1 >= 2, "{p:?}");
        for s in possible_values(&p, 60) {
            assert!(s.is_empty() || s.len() >= 2, "{s:?}");
        }
        assert!(p.to_csv("x").contains("suppressed"));
        assert!(!p.to_csv("x").contains(",3,"));
    }

    #[test]
    fn zeros_stay_zeros_and_big_cells_stay() {
        let t = table(vec![vec![0, 50], vec![60, 0]]);
        let p = protect(&t, 11);
        assert_eq!(p.cells[0][0], Cell::Value(0));
        assert_eq!(p.total, Cell::Value(110));
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(120))]
        #[test]
        fn no_suppressed_cell_can_be_recovered_and_nothing_small_is_shown(
            n in 1usize..=3,
            m in 2usize..=3,
            k in 2u64..=5,
            seed in proptest::collection::vec(0u64..=8, 9),
        ) {
            let cells: Vec<Vec<u64>> = (0..n).map(|i| (0..m).map(|j| seed[i * 3 + j]).collect()).collect();
            let t = table(cells);
            let p = protect(&t, k);
            // Nothing between 1 and k-1 is shown, anywhere.
            for v in published_values(&p).into_iter().flatten() {
                proptest::prop_assert!(v == 0 || v >= k, "{v} shown with k={k}: {p:?}");
            }
            // Every suppressed value has at least two possible values. (The search tries each
            // hidden cell up to a cap above every true value; a smaller cap can only make a
            // cell look more recoverable, never less.)
            let hidden = p.cells.iter().flatten().filter(|c| **c == Cell::Suppressed).count();
            proptest::prop_assume!(hidden <= 6);
            let cap = 14;
            for (h, s) in possible_values(&p, cap).iter().enumerate() {
                // Empty sets belong to totals that are published.
                proptest::prop_assert!(s.is_empty() || s.len() >= 2, "suppressed value {h} recoverable as {s:?} in {p:?} from {t:?}");
            }
        }
    }
}
