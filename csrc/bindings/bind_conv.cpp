// Bindings of the convolution kernels (csrc/include/reluinj/conv.hpp): reluinj._core.conv_forward
// and reluinj._core.conv_adjoint, float32 and float64, 4-D arrays (1-D layers use H = kh = 1),
// with zero padding (top, bottom, left, right), dilation and groups as keyword arguments.
#include "bindings.hpp"
#include "reluinj/conv.hpp"

namespace reluinj {
namespace {

ConvGeom make_geom(std::ptrdiff_t B, std::ptrdiff_t M, std::ptrdiff_t H, std::ptrdiff_t W,
                   const py::array &w, std::ptrdiff_t sh, std::ptrdiff_t sw, std::ptrdiff_t dh,
                   std::ptrdiff_t dw, std::ptrdiff_t pt, std::ptrdiff_t pb, std::ptrdiff_t pl,
                   std::ptrdiff_t pr, std::ptrdiff_t groups) {
    require(sh >= 1 && sw >= 1, "stride must be >= 1");
    require(dh >= 1 && dw >= 1, "dilation must be >= 1");
    require(pt >= 0 && pb >= 0 && pl >= 0 && pr >= 0, "padding must be >= 0");
    require(groups >= 1, "groups must be >= 1");
    ConvGeom g{B, M, H, W, w.shape(0), w.shape(2), w.shape(3)};
    g.sh = sh, g.sw = sw, g.dh = dh, g.dw = dw;
    g.pt = pt, g.pb = pb, g.pl = pl, g.pr = pr, g.G = groups;
    require(g.K % groups == 0, "groups must divide the number of filters");
    require(g.Hp() >= g.kh_eff() && g.Wp() >= g.kw_eff(),
            "X spatial shape (padded) must be at least the filter shape (dilated)");
    return g;
}

template <class T>
carray<T> conv_forward_py(carray<T> X, carray<T> w, std::ptrdiff_t sh, std::ptrdiff_t sw,
                          int n_threads, std::ptrdiff_t dh, std::ptrdiff_t dw, std::ptrdiff_t pt,
                          std::ptrdiff_t pb, std::ptrdiff_t pl, std::ptrdiff_t pr,
                          std::ptrdiff_t groups) {
    check_ndim(X, 4, "X");
    check_ndim(w, 4, "filters");
    require(groups >= 1, "groups must be >= 1");
    check_dim(X, 1, w.shape(1) * groups, "X");
    const ConvGeom g = make_geom(X.shape(0), X.shape(1), X.shape(2), X.shape(3), w, sh, sw, dh,
                                 dw, pt, pb, pl, pr, groups);
    carray<T> out({g.B, g.K, g.OH(), g.OW()});
    const T *x = X.data(), *wp = w.data();
    T *o = out.mutable_data();
    {
        py::gil_scoped_release nogil;
        conv_forward(x, wp, o, g, n_threads);
    }
    return out;
}

template <class T>
carray<T> conv_adjoint_py(carray<T> Z, carray<T> w, std::ptrdiff_t H, std::ptrdiff_t W,
                          std::ptrdiff_t sh, std::ptrdiff_t sw, int n_threads, std::ptrdiff_t dh,
                          std::ptrdiff_t dw, std::ptrdiff_t pt, std::ptrdiff_t pb,
                          std::ptrdiff_t pl, std::ptrdiff_t pr, std::ptrdiff_t groups) {
    check_ndim(Z, 4, "Z");
    check_ndim(w, 4, "filters");
    check_dim(Z, 1, w.shape(0), "Z");
    require(groups >= 1, "groups must be >= 1");
    require(H >= 1 && W >= 1, "input shape must be positive");
    const ConvGeom g = make_geom(Z.shape(0), w.shape(1) * groups, H, W, w, sh, sw, dh, dw, pt,
                                 pb, pl, pr, groups);
    check_dim(Z, 2, g.OH(), "Z");
    check_dim(Z, 3, g.OW(), "Z");
    carray<T> out({g.B, g.M, H, W});
    const T *z = Z.data(), *wp = w.data();
    T *o = out.mutable_data();
    {
        py::gil_scoped_release nogil;
        conv_adjoint(z, wp, o, g, n_threads);
    }
    return out;
}

template <class T>
void def_typed(py::module_ &m) {
    m.def("conv_forward", &conv_forward_py<T>, py::arg("X").noconvert(),
          py::arg("filters").noconvert(), py::arg("stride_h"), py::arg("stride_w"),
          py::arg("n_threads"), py::kw_only(), py::arg("dilation_h") = 1,
          py::arg("dilation_w") = 1, py::arg("pad_top") = 0, py::arg("pad_bottom") = 0,
          py::arg("pad_left") = 0, py::arg("pad_right") = 0, py::arg("groups") = 1,
          "Zero-padded, strided, dilated, grouped cross-correlation (torch conv2d): "
          "X (B, M, H, W), filters (K, M/groups, kh, kw) -> (B, K, OH, OW).");
    m.def("conv_adjoint", &conv_adjoint_py<T>, py::arg("Z").noconvert(),
          py::arg("filters").noconvert(), py::arg("H"), py::arg("W"), py::arg("stride_h"),
          py::arg("stride_w"), py::arg("n_threads"), py::kw_only(), py::arg("dilation_h") = 1,
          py::arg("dilation_w") = 1, py::arg("pad_top") = 0, py::arg("pad_bottom") = 0,
          py::arg("pad_left") = 0, py::arg("pad_right") = 0, py::arg("groups") = 1,
          "Adjoint of conv_forward: Z (B, K, OH, OW) -> (B, M, H, W).");
}

}  // namespace

void bind_conv(py::module_ &m) {
    def_typed<double>(m);
    def_typed<float>(m);
}

}  // namespace reluinj
