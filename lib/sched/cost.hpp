// DT-FM's cost model (Yuan et al., NeurIPS 2022, §3, and the scenarios file's cost_model;
// proofwork(7), SCHEDULING),
// seconds per iteration, no overlap of communication and compute:
//
//   cost = DataPCost + 2 * PipelinePCost
//   DataPCost     = max over stage groups C, devices d in C of
//                   sum_{d' in C, d' != d} 2 * (lat(d,d') + 8 * gradient_gb / (bw(d,d') * |C|))
//   PipelinePCost = shortest open path (Hamiltonian path, free ends) over the groups with
//                   edge weight BM(Ci, Cj), the bottleneck perfect matching:
//                   min over perfect matchings M of max_{(d,d') in M} lat(d,d') + 8 * activation_gb / bw(d,d')
//
// lat in seconds, bw in Gbit/s, sizes in GB (x8: Gbit). Beyond DT-FM:
// with a per-stage compute time, a stage runs at its slowest device's speed, so
//   compute   = sum over stages of compute_s / min_{d in stage} speed(d)
//   iteration = cost + compute
// and a network k times slower (latencies x k, bandwidths / k) multiplies cost by k.
#pragma once
#include <vector>

#include "sched/topology.hpp"

namespace pw::sched {

struct CostModel {
  int n = 0, S = 0, D = 0;     // devices, stages, data-parallel degree (n = S * D)
  std::vector<double> allreduce;  // n x n: 2 * (lat + 8 g / (bw D)), the DataPCost term of a pair
  std::vector<double> hop;        // n x n: lat + 8 a / bw, the activation hop of a pair
  std::vector<double> speed;      // per device
  double compute_s = 0;

  // `slowdown`: latencies x k and bandwidths / k.
  explicit CostModel(const Problem& p, double slowdown = 1.0);
  double ar(int a, int b) const { return allreduce[size_t(a) * size_t(n) + size_t(b)]; }
  double c(int a, int b) const { return hop[size_t(a) * size_t(n) + size_t(b)]; }
};

using Group = std::vector<int>;  // device indices, D of them

// max over d in g of sum_{d' in g} allreduce(d, d')
double data_cost(const CostModel& m, const Group& g);
// Index into g of the device with the largest all-reduce sum (the group's bottleneck).
int data_bottleneck(const CostModel& m, const Group& g);

// Bottleneck perfect matching between equal-sized groups a and b: binary search over
// the distinct edge weights, Hopcroft–Karp at each threshold; exact. When `match` is
// given, (*match)[i] is the index into b matched with a[i].
double bottleneck_matching(const CostModel& m, const Group& a, const Group& b, std::vector<int>* match = nullptr);

// compute_s / slowest speed in g (0 when compute is not modelled).
double compute_cost(const CostModel& m, const Group& g);

struct CostBreakdown {
  double data_p = 0, pipeline_p = 0, total = 0;  // DT-FM
  double compute = 0, iteration = 0;             // beyond DT-FM
};

// The cost of groups taken in the given pipeline order (PipelinePCost = the path in this
// order, not minimised here). `matching`, when given, receives the S-1 edge weights.
CostBreakdown path_cost(const CostModel& m, const std::vector<Group>& stages, std::vector<double>* matching = nullptr);

// S x S matrix of bottleneck matchings between all pairs of groups (the coarsened graph).
std::vector<double> coarsened_graph(const CostModel& m, const std::vector<Group>& groups);

}  // namespace pw::sched
