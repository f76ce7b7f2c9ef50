// Shared helpers for the pybind11 bindings of reluinj._core. Each topic lives in its own
// bind_<topic>.cpp and registers its functions through a bind_<topic>(module) call made
// from core.cpp.
#pragma once
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstddef>
#include <sstream>
#include <stdexcept>
#include <string>

namespace py = pybind11;

namespace reluinj {

// Exact dtype + C order: with .noconvert() a mismatching array is a TypeError, never a copy.
template <class T>
using carray = py::array_t<T, py::array::c_style>;

inline void check_ndim(const py::array &a, int ndim, const char *name) {
    if (a.ndim() != ndim) {
        std::ostringstream os;
        os << name << " must be " << ndim << "-D; got ndim=" << a.ndim();
        throw std::invalid_argument(os.str());
    }
}

inline void check_dim(const py::array &a, int axis, std::ptrdiff_t expected, const char *name) {
    if (a.shape(axis) != expected) {
        std::ostringstream os;
        os << name << ".shape[" << axis << "] must be " << expected << "; got " << a.shape(axis);
        throw std::invalid_argument(os.str());
    }
}

void bind_injectivity(py::module_ &m);
void bind_facets(py::module_ &m);
void bind_conv(py::module_ &m);
void bind_reconstruct(py::module_ &m);
void bind_mcb(py::module_ &m);
void bind_radial(py::module_ &m);

}  // namespace reluinj
