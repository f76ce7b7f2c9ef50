// Exact radial injectivity profile of a ReLU layer x -> ReLU(W x - alpha) along rays t u.
//
// Along the ray t u (t > 0, u a unit vector) row i is active iff t c_i >= alpha_i with
// c_i = <u, phi_i>, so its state changes at most once, at the breakpoint t_i = alpha_i / c_i:
//   c_i > 0: inactive below t_i, active from t_i on (always active if alpha_i <= 0);
//   c_i < 0: active up to t_i, inactive above (never active if alpha_i >= 0);
//   c_i = 0: active for all t iff alpha_i <= 0.
// Between two consecutive distinct breakpoints the active set is constant. The segments are
// (s_0, s_1), (s_1, s_2), ..., (s_L, t_max] with s_0 = 0 and s_1 < ... < s_L the distinct
// breakpoints in (0, t_max]; rows whose breakpoints are equal (as doubles) change together
// in one event, so a tie never creates a spurious segment. On each segment the rank is
// decided exactly as ReLULayer.is_injective_at decides it at a point of that segment: the
// active rows are scanned in index order by IncrementalBasis (relative tolerance rank_tol),
// stopping once n rows are accepted.
//
// Rank updates are exact shortcuts of that full scan (bitwise the same decisions):
//  * a leaving row that was not accepted changes nothing (the scan rejected it without
//    touching the basis);
//  * an entering row behind the row that completed the basis changes nothing (the scan
//    stops before it);
//  * otherwise the scan is resumed from the smallest changed index p after truncating the
//    basis to the rows accepted before p (IncrementalBasis::truncate).
// The rank scan runs on the Gram matrix W W^T by GramCholeskyBasis (about k^2 flops per
// candidate against k accepted rows instead of 4 k n) when m <= kGramMaxRows; it only
// accepts candidates whose squared sine exceeds max(1e-6, 1e4 rank_tol^2), where
// IncrementalBasis accepts them too, and a segment on which it meets a smaller one is redone
// from scratch by IncrementalBasis: the decisions are always IncrementalBasis's.
// A closed breakpoint itself has the union of the adjacent segments' active sets (both the
// entering and the leaving rows are active there), so it is injective whenever one of its
// neighbours is: the first failure radius is the left end s_j of the first segment of rank
// < n (0 when the first segment already fails), the supremum of the r for which the open
// segment [0, r) of the ray is injective.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <vector>

#include "reluinj/injectivity.hpp"
#include "reluinj/linalg.hpp"
#include "reluinj/parallel.hpp"

namespace reluinj {

struct RadialEvent {
    double t;
    std::int32_t row;
    bool enters;
};

// Per-direction output of radial_profile.
struct RadialResult {
    std::vector<double> starts;        // s_0 = 0, s_1, ..., s_L (empty when first_only)
    std::vector<std::int32_t> ranks;   // rank on (s_j, s_{j+1})
    double first_failure = std::numeric_limits<double>::infinity();
    std::int32_t failure_row = -1;     // smallest row index whose breakpoint is first_failure
};

// Scratch of one thread (reused across directions).
class RadialWorker {
public:
    RadialWorker(std::ptrdiff_t m, std::ptrdiff_t n, double rank_tol, const double *G)
        : m_(m), n_(n), c_(m), active_(m), accepted_(m), acc_idx_(n), basis_(n, rank_tol),
          chol_(n, G, m, std::max(kGramAcceptSin2, 1e4 * rank_tol * rank_tol)), use_chol_(G != nullptr) {
        events_.reserve(m);
    }

    template <class T>
    void run(const T *W, const T *alpha, const T *u, double t_max, bool first_only,
             RadialResult &res) {
        res.starts.clear();
        res.ranks.clear();
        res.first_failure = std::numeric_limits<double>::infinity();
        res.failure_row = -1;
        correlations(W, u, c_.data(), m_, n_);
        const double unorm = std::sqrt(dot(u, u, n_));
        events_.clear();
        for (std::ptrdiff_t i = 0; i < m_; ++i) {
            const double c = c_[i] / unorm, a = double(alpha[i]);
            bool on = false;
            if (c > 0.0) {
                if (a <= 0.0) {
                    on = true;
                } else {
                    const double t = a / c;  // > 0 or +inf (a = +inf, or overflow)
                    if (!(t > 0.0)) on = true;
                    else if (t <= t_max) events_.push_back({t, std::int32_t(i), true});
                }
            } else if (c < 0.0) {
                if (a < 0.0) {
                    const double t = a / c;  // > 0, +inf when a = -inf
                    if (t > 0.0) {
                        on = true;
                        if (t <= t_max) events_.push_back({t, std::int32_t(i), false});
                    }
                }
            } else {
                on = a <= 0.0;
            }
            active_[i] = on;
            accepted_[i] = 0;
        }
        std::sort(events_.begin(), events_.end(), [](const RadialEvent &x, const RadialEvent &y) {
            return x.t < y.t || (x.t == y.t && x.row < y.row);
        });
        rank_ = 0;
        scan_from(0, W);
        if (!first_only) {
            res.starts.push_back(0.0);
            res.ranks.push_back(std::int32_t(rank_));
        }
        bool failed = rank_ < n_;
        if (failed) res.first_failure = 0.0;
        if (failed && first_only) return;
        std::size_t e = 0;
        const std::size_t ne = events_.size();
        while (e < ne) {
            const double t = events_[e].t;
            std::ptrdiff_t p = m_;
            const std::int32_t group_row = events_[e].row;  // smallest index (sort order)
            for (; e < ne && events_[e].t == t; ++e) {
                const std::ptrdiff_t r = events_[e].row;
                active_[r] = events_[e].enters;
                if (events_[e].enters) {
                    if (r < last_) p = std::min(p, r);
                } else if (accepted_[r]) {
                    p = std::min(p, r);
                }
            }
            if (p < m_) {
                // Truncate to the accepted rows with index < p, then resume the scan at p.
                std::ptrdiff_t k = 0;
                while (k < rank_ && acc_idx_[k] < p) ++k;
                // After an IncrementalBasis segment the Cholesky state is stale: start over
                // (the Cholesky scan is tried again and falls back again if needed).
                if (!chol_valid_ && use_chol_) k = 0;
                for (std::ptrdiff_t j = k; j < rank_; ++j) accepted_[acc_idx_[j]] = 0;
                rank_ = k;
                scan_from(k == 0 ? 0 : p, W);
            }
            if (!first_only) {
                res.starts.push_back(t);
                res.ranks.push_back(std::int32_t(rank_));
            }
            if (!failed && rank_ < n_) {
                failed = true;
                res.first_failure = t;
                res.failure_row = group_row;
                if (first_only) return;
            }
        }
    }

private:
    // Resume the greedy index-order scan at row p with the first rank_ accepted rows kept
    // (all accepted rows have index < p, or p = 0 and rank_ = 0).
    template <class T>
    void scan_from(std::ptrdiff_t p, const T *W) {
        const std::ptrdiff_t keep = rank_;  // < n_ always
        last_ = m_;
        if (use_chol_ && (chol_valid_ || keep == 0)) {
            chol_.truncate(keep);
            chol_valid_ = true;
            bool ambiguous = false;
            std::ptrdiff_t i = p;
            for (; i < m_ && rank_ < n_; ++i) {
                if (!active_[i]) continue;
                const int r = chol_.try_add(i);
                if (r < 0) {
                    ambiguous = true;
                    break;
                }
                if (r > 0) accept(i);
            }
            if (!ambiguous) return;
            // Redo the whole segment with IncrementalBasis (the reference decisions).
            for (std::ptrdiff_t j = 0; j < rank_; ++j) accepted_[acc_idx_[j]] = 0;
            rank_ = 0;
            p = 0;
            chol_valid_ = false;
            basis_.reset();
        } else {
            // IncrementalBasis only (no Gram matrix), or resuming its state: keep the prefix.
            basis_.truncate(keep);
        }
        for (std::ptrdiff_t i = p; i < m_ && rank_ < n_; ++i) {
            if (active_[i] && basis_.try_add(W + i * n_)) accept(i);
        }
    }

    void accept(std::ptrdiff_t i) {
        accepted_[i] = 1;
        acc_idx_[rank_++] = i;
        last_ = rank_ == n_ ? i : m_;
    }

    std::ptrdiff_t m_, n_;
    std::vector<double> c_;
    std::vector<std::uint8_t> active_, accepted_;
    std::vector<std::ptrdiff_t> acc_idx_;
    std::vector<RadialEvent> events_;
    IncrementalBasis basis_;
    GramCholeskyBasis chol_;
    bool use_chol_;
    bool chol_valid_ = false;   // chol_ holds the accepted rows (else basis_ does)
    std::ptrdiff_t rank_ = 0;   // number of accepted rows
    std::ptrdiff_t last_ = 0;   // row that completed the basis (m when not full)
};

// Profiles of directions U[begin:end) (rows of U, any nonzero norm: t is the Euclidean
// radius t * u / ||u||). G: W W^T (gram_rows) for the Cholesky fast path, or nullptr.
// Results depend only on the direction, never on n_threads.
template <class T>
void radial_profile(const T *W, const T *alpha, const T *U, const double *G, std::ptrdiff_t m,
                    std::ptrdiff_t n,
                    std::ptrdiff_t begin, std::ptrdiff_t end, double rank_tol, double t_max,
                    bool first_only, RadialResult *out, int n_threads) {
    parallel_chunks(end - begin, 64, n_threads, [&](std::ptrdiff_t, std::ptrdiff_t b, std::ptrdiff_t e) {
        RadialWorker worker(m, n, rank_tol, G);
        for (std::ptrdiff_t s = begin + b; s < begin + e; ++s)
            worker.run(W, alpha, U + s * n, t_max, first_only, out[s]);
    });
}

}  // namespace reluinj
