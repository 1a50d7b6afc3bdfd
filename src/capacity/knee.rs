//! The knee of a curve by Kneedle (Satopaa, Albrecht, Irwin, Raghavan, 2011): scale x and y to
//! [0, 1], take the difference curve y - x of a concave increasing curve (throughput against
//! concurrency), and the knee is where it is highest, provided it rises clearly above the
//! chord (otherwise the curve is close to a straight line and has no knee).

/// The index of the knee of the points (x increasing, y roughly increasing and concave), or
/// None with fewer than 3 points or no clear knee.
pub fn kneedle(points: &[(f64, f64)]) -> Option<usize> {
    if points.len() < 3 {
        return None;
    }
    let (x0, x1) = (points[0].0, points[points.len() - 1].0);
    let ymin = points.iter().map(|p| p.1).fold(f64::INFINITY, f64::min);
    let ymax = points.iter().map(|p| p.1).fold(f64::NEG_INFINITY, f64::max);
    if x1.partial_cmp(&x0) != Some(std::cmp::Ordering::Greater)
        || ymax.partial_cmp(&ymin) != Some(std::cmp::Ordering::Greater)
    {
        return None;
    }
    let diff: Vec<f64> = points
        .iter()
        .map(|&(x, y)| (y - ymin) / (ymax - ymin) - (x - x0) / (x1 - x0))
        .collect();
    let (i, best) = diff.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1))?;
    // A knee stands clearly above the chord: the sensitivity S = 1 threshold of the paper
    // (the mean spacing of the normalised x values).
    let threshold = 1.0 / (points.len() - 1) as f64;
    (*best >= threshold && i > 0 && i < points.len() - 1).then_some(i)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_bend_of_a_saturating_curve_and_none_on_a_line() {
        // Linear up to 8, then flat.
        let pts: Vec<(f64, f64)> = [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0]
            .iter()
            .map(|&n: &f64| (n, 100.0 * n.min(8.0)))
            .collect();
        assert_eq!(kneedle(&pts), Some(3));
        let line: Vec<(f64, f64)> = (1..8).map(|n| (n as f64, 10.0 * n as f64)).collect();
        assert_eq!(kneedle(&line), None);
        assert_eq!(kneedle(&pts[..2]), None);
    }
}
