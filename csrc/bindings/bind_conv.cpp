// Bindings of the convolution kernels (csrc/include/reluinj/conv.hpp): reluinj._core.conv_forward
// and reluinj._core.conv_adjoint, float32 and float64, 4-D arrays (1-D layers use H = kh = 1).
#include "bindings.hpp"
#include "reluinj/conv.hpp"

namespace reluinj {
namespace {

template <class T>
carray<T> conv_forward_py(carray<T> X, carray<T> w, std::ptrdiff_t sh, std::ptrdiff_t sw,
                          int n_threads) {
    check_ndim(X, 4, "X");
    check_ndim(w, 4, "filters");
    check_dim(X, 1, w.shape(1), "X");
    require(sh >= 1 && sw >= 1, "stride must be >= 1");
    const auto B = X.shape(0), M = X.shape(1), H = X.shape(2), W = X.shape(3);
    const auto K = w.shape(0), kh = w.shape(2), kw = w.shape(3);
    require(H >= kh && W >= kw, "X spatial shape must be at least the filter shape");
    const auto OH = (H - kh) / sh + 1, OW = (W - kw) / sw + 1;
    carray<T> out({B, K, OH, OW});
    const T *x = X.data(), *wp = w.data();
    T *o = out.mutable_data();
    {
        py::gil_scoped_release nogil;
        conv_forward(x, wp, o, B, M, H, W, K, kh, kw, sh, sw, OH, OW, n_threads);
    }
    return out;
}

template <class T>
carray<T> conv_adjoint_py(carray<T> Z, carray<T> w, std::ptrdiff_t H, std::ptrdiff_t W,
                          std::ptrdiff_t sh, std::ptrdiff_t sw, int n_threads) {
    check_ndim(Z, 4, "Z");
    check_ndim(w, 4, "filters");
    check_dim(Z, 1, w.shape(0), "Z");
    require(sh >= 1 && sw >= 1, "stride must be >= 1");
    const auto B = Z.shape(0), K = w.shape(0), M = w.shape(1), kh = w.shape(2), kw = w.shape(3);
    require(H >= kh && W >= kw, "input shape must be at least the filter shape");
    const auto OH = (H - kh) / sh + 1, OW = (W - kw) / sw + 1;
    check_dim(Z, 2, OH, "Z");
    check_dim(Z, 3, OW, "Z");
    carray<T> out({B, M, H, W});
    const T *z = Z.data(), *wp = w.data();
    T *o = out.mutable_data();
    {
        py::gil_scoped_release nogil;
        conv_adjoint(z, wp, o, B, M, H, W, K, kh, kw, sh, sw, OH, OW, n_threads);
    }
    return out;
}

template <class T>
void def_typed(py::module_ &m) {
    m.def("conv_forward", &conv_forward_py<T>, py::arg("X").noconvert(),
          py::arg("filters").noconvert(), py::arg("stride_h"), py::arg("stride_w"),
          py::arg("n_threads"),
          "Valid strided cross-correlation: X (B, M, H, W), filters (K, M, kh, kw) -> (B, K, OH, OW).");
    m.def("conv_adjoint", &conv_adjoint_py<T>, py::arg("Z").noconvert(),
          py::arg("filters").noconvert(), py::arg("H"), py::arg("W"), py::arg("stride_h"),
          py::arg("stride_w"), py::arg("n_threads"),
          "Adjoint of conv_forward: Z (B, K, OH, OW) -> (B, M, H, W).");
}

}  // namespace

void bind_conv(py::module_ &m) {
    def_typed<double>(m);
    def_typed<float>(m);
}

}  // namespace reluinj
