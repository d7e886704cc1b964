// A kernel's sums over part of a batch, so that one batch's work can be split between
// processes and joined bitwise (the optional numgrad_mpi layer; docs/design.md §8): the fixed
// row-chunk grid every serial kernel and tbb.samples sums over, the partial sums of a range of
// its chunks, and their join in chunk order, finished as the kernel's own functions finish.
// Joining every chunk's partials gives the serial kernel's bits on the whole batch, whoever
// computed each chunk.
#pragma once

#include <algorithm>
#include <cstddef>
#include <span>

#include "numgrad/kernel.hpp"

namespace numgrad {

// The fixed row chunks of a batch: chunk k is rows [first(k), end(k)). The grid depends on the
// batch's rows and features only (docs/design.md §4.4), never on threads or processes.
struct ChunkGrid {
  std::size_t rows = 0;   // b
  std::size_t size = 0;   // rows per chunk; the last may hold fewer
  std::size_t count = 0;  // chunks
  std::size_t first(std::size_t k) const { return std::min(rows, k * size); }
  std::size_t end(std::size_t k) const { return std::min(rows, (k + 1) * size); }
};
ChunkGrid chunk_grid(std::size_t b, std::size_t d);

// Values per chunk: loss 1 (sum_i r_i^2); blackbox and residual 2d (the d sums at w + h_j e_j,
// then the d at w - h_j e_j); analytic d (sum_i x_ij r_i); steps d + 1 (sum_i x_ij^2, then
// sum_i r_i^2). Each is a sum in the kernel's accumulator, held exactly as a double (the
// chunks' sum_i r_i^2 are joined in double, as the kernels join them).
std::size_t sums_per_chunk(Sums what, std::size_t d);
// The sums a kernel's gradient() is made of: its algorithm's.
Sums gradient_sums(Algorithm a);

// The partials of chunks [k0, k1) of chunk_grid(b, rows.d), computed by kernel k (with its
// threads, as its own functions would run them; every axis computes the serial grid's chunks,
// so tbb.weights and tbb.both give tbb.samples' bits here). `rows` holds exactly those chunks'
// rows; out receives (k1 - k0) * sums_per_chunk(what, d) values, chunk by chunk. h is read for
// blackbox and residual (the steps, checked as gradient() checks them) and may be empty
// otherwise. k0 == k1 is an empty range: nothing is read or written. Throws
// std::invalid_argument naming the argument and value, as the rest of the API does.
template <class T>
void chunk_sums(const Kernel& k, Sums what, const BatchView<T>& rows, std::size_t b, std::size_t k0,
                std::size_t k1, std::span<const T> w, std::span<const T> h, std::span<double> out,
                Exec exec = {});

// Every chunk's partials joined in chunk order (partials: chunk_grid(b, d).count *
// sums_per_chunk values), in kernel k's accumulator type, and finished as its loss(),
// gradient() / analytic_gradient() and steps() finish: bitwise what those return for the
// whole batch with the same sums.
template <class T>
double join_loss(const Kernel& k, std::size_t b, std::size_t d, std::span<const double> partials);
// what: blackbox, residual (h: the steps the partials used) or analytic (h ignored, may be empty).
template <class T>
void join_gradient(const Kernel& k, Sums what, std::size_t b, std::span<const T> w,
                   std::span<const T> h, std::span<const double> partials, std::span<double> g);
template <class T>
void join_steps(const Kernel& k, std::size_t b, std::span<const T> w,
                std::span<const double> partials, std::span<T> h);

}  // namespace numgrad
