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

// The `poll` of the interruptible kernels (run_blocks in parallel.hpp): called between blocks
// on the thread that released the GIL, it takes the GIL for the signal check only. True when a
// signal handler raised (Ctrl-C: KeyboardInterrupt), whose error then stays set for
// throw_if_interrupted.
struct PythonSignals {
    bool operator()() const {
        py::gil_scoped_acquire gil;
        return PyErr_CheckSignals() != 0;
    }
};

// With the GIL held again after an interrupted kernel: raise the pending Python error.
inline void throw_if_interrupted(bool completed) {
    if (!completed) throw py::error_already_set();
}

void bind_injectivity(py::module_ &m);
void bind_facets(py::module_ &m);
void bind_conv(py::module_ &m);
void bind_reconstruct(py::module_ &m);
void bind_mcb(py::module_ &m);
void bind_radial(py::module_ &m);

}  // namespace reluinj
