// ledger-settle: the market's ledger. Keys, signed events appended to a hash-chained
// log, validation of a whole ledger and Truebit-style settlement (man ledger-settle).
#include <dirent.h>

#include <cstdio>
#include <map>

#include "cli/cli.hpp"
#include "core/error.hpp"
#include "io/message.hpp"
#include "ledger/ledger.hpp"
#include "proof/proof.hpp"
#include "proof/task_file.hpp"
#include "schema/proofwork.capnp.h"

using namespace pw;
using namespace pw::ledger;

namespace {

struct Opts {
  CommonOptions common;
  std::string ledger, key, out, names, data_dir;
  // event fields
  std::string to, value, text, task_file, proof, decoy, verdict, dispute;
  uint64_t amount = 0, task = 0, count = 1;
  int64_t stake = -1, fee = -1, solver_stake = -1, verifier_stake = -1, challenge_stake = -1;
  uint32_t claim_window = 100, verify_window = 20, challenge_window = 20;
  int64_t challenge = -1;
  std::string note;
  std::vector<std::string> files;
};

// Labels for accounts: NAME for every NAME.pub in --names DIR.
std::map<PublicKey, std::string> load_names(const std::string& dir) {
  std::map<PublicKey, std::string> names;
  if (dir.empty()) return names;
  DIR* d = opendir(dir.c_str());
  if (!d) usage_error("--names '" + dir + "': not a readable directory");
  while (dirent* ent = readdir(d)) {
    const std::string f = ent->d_name;
    if (f.size() > 4 && f.compare(f.size() - 4, 4, ".pub") == 0) {
      try {
        names[parse_public_key(join_path(dir, f))] = f.substr(0, f.size() - 4);
      } catch (const Error&) {  // not a key: not a label
      }
    }
  }
  closedir(d);
  return names;
}

std::string label(const std::map<PublicKey, std::string>& names, const PublicKey& k) {
  auto it = names.find(k);
  return it == names.end() ? short_key(k) : it->second + " (" + short_key(k) + ")";
}

void print_task(const Task& t, const std::map<PublicKey, std::string>& names) {
  std::printf("task %llu (settled at event %llu): %s%s\n", (unsigned long long)t.id, (unsigned long long)t.settled_at,
              t.outcome.c_str(), t.forced ? ", forced error" : "");
  for (const Payment& p : t.payments) {
    char amount[96];
    if (p.slashed)
      std::snprintf(amount, sizeof amount, "SLASHED %llu", (unsigned long long)p.slashed);
    else
      std::snprintf(amount, sizeof amount, "paid %llu", (unsigned long long)p.paid);
    std::printf("  %-13s %-28s %-14s %s\n", p.role.c_str(), label(names, p.account).c_str(), amount, p.reason.c_str());
  }
}

void print_state(const std::string& dir, const State& st, const std::map<PublicKey, std::string>& names) {
  size_t settled = 0;
  for (const auto& [id, t] : st.tasks()) settled += t.settled;
  std::printf("ledger %s: %llu events, chain %.16s…, head %.16s…: valid\n", dir.c_str(),
              (unsigned long long)st.next_seq(), hex(st.chain()).c_str(), hex(st.head()).c_str());
  std::printf("%zu tasks, %zu settled; supply %llu = free + locked + jackpot %llu\n", st.tasks().size(), settled,
              (unsigned long long)st.supply(), (unsigned long long)st.jackpot());
  std::printf("balances (free, locked):\n");
  for (const auto& [k, a] : st.accounts())
    std::printf("  %-28s %12llu %12llu\n", label(names, k).c_str(), (unsigned long long)a.free, (unsigned long long)a.locked);
}

void write_settlement(const Opts& o, const State& st, bool print) {
  const std::string prov = std::string("ledger-settle ") + version() + ": " + command_line();
  if (!o.out.empty()) write_file_atomic(o.out, settlement_file(st, o.common.json, prov), o.common.json);
  else if (o.common.json && print) write_file_atomic("-", settlement_file(st, true, prov), true);
}

// The one line printed for an appended (or prepared) event.
void report_event(const Opts& o, const Record& r) {
  const Event& e = r.event;
  if (o.common.json)
    std::printf("{\"seq\": %llu, \"kind\": \"%s\", \"hash\": \"%s\"}\n", (unsigned long long)e.seq, kind_name(e.kind),
                hex(r.hash).c_str());
  else
    std::printf("%llu\n", (unsigned long long)e.seq);
}

// Appends the events `make` builds, or with -o writes the one event as a file.
int emit(Opts& o, const std::function<std::vector<Event>(const State&)>& make) {
  const KeyPair k = read_secret_key(o.key);
  auto oracle = referee_oracle(o.ledger, o.data_dir);
  if (!o.out.empty()) {
    check_output_path(o.out, {}, o.common.force);
    State st = validate_ledger(o.ledger, oracle);
    auto es = make(st);
    if (es.size() != 1) usage_error("-o writes one event; this command makes " + std::to_string(es.size()));
    const Record r = prepare_event(o.ledger, k, oracle, es[0]);
    write_file_atomic(o.out, record_to_file(r, o.common.json), o.common.json);
    note(o.common, "wrote " + std::string(kind_name(r.event.kind)) + " event " + std::to_string(r.event.seq) + " to " + o.out +
                       " (append it before any other event: it names the current head)");
    return kExitOk;
  }
  std::vector<Kind> kinds;
  State st = append_events(o.ledger, k, oracle, [&](const State& s) {
    auto es = make(s);
    for (const Event& e : es) kinds.push_back(e.kind);
    return es;
  });
  uint64_t seq = st.next_seq() - kinds.size();
  for (Kind kind : kinds) {
    if (o.common.json)
      std::printf("{\"seq\": %llu, \"kind\": \"%s\"}\n", (unsigned long long)seq, kind_name(kind));
    else
      std::printf("%llu\n", (unsigned long long)seq);
    note(o.common, std::string("appended ") + kind_name(kind) + " event " + std::to_string(seq));
    seq++;
  }
  return kExitOk;
}

const Task& find_task(const State& st, uint64_t id) {
  auto it = st.tasks().find(id);
  if (it == st.tasks().end()) usage_error("--task-id " + std::to_string(id) + ": no such task in the ledger");
  return it->second;
}

Hash proof_root(const std::string& dir) {
  const Manifest m = read_manifest(dir, int64_t(1) << 28);
  check_input(!m.root_mismatch, "proof '" + dir + "': the manifest's stored root is not its recomputed one");
  check_input(m.complete, "proof '" + dir + "': training is not complete");
  return m.root();
}

Hash parse_hash_or_text(const Opts& o) {
  if (!o.value.empty()) {
    try {
      return to_hash(unhex(o.value).data(), 32);
    } catch (const Error&) {
      usage_error("--value '" + o.value + "': not 64 hexadecimal digits");
    }
  }
  if (!o.text.empty()) return blake2b(o.text.data(), o.text.size());
  Hash h;
  randombytes_buf(h.data(), h.size());
  return h;
}

uint64_t or_default(int64_t v, uint64_t d) { return v < 0 ? d : uint64_t(v); }

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"The market's ledger: Ed25519 keys, signed events appended to a hash-chained log, validation of a "
               "whole ledger and Truebit-style settlement of stakes, rewards and slashes (man ledger-settle).",
               "ledger-settle"};
  app.require_subcommand(1);
  Opts o;
  app.set_version_flag("--version", std::string("proofwork ") + version());

  auto ledger_arg = [&](CLI::App* s) { s->add_option("LEDGER", o.ledger, "Ledger directory")->required(); };
  auto key_opt = [&](CLI::App* s, const char* who) { s->add_option("-k,--key", o.key, who)->required(); };
  auto event_opts = [&](CLI::App* s) {
    s->add_option("-o,--output", o.out, "Write the signed event to FILE instead of appending it (for 'append')");
    s->add_option("--data-dir", o.data_dir, "Where a task's dataset is (only a load_batch dispute needs it)");
    add_common_options(*s, o.common, kOptJson | kOptQuiet | kOptForce | kOptThreads);
  };

  auto* keygen = app.add_subcommand("keygen", "Write a key pair NAME.key (secret, mode 0600) and NAME.pub; print the public key");
  std::string keyname;
  keygen->add_option("NAME", keyname, "Path prefix of the two files")->required();
  add_common_options(*keygen, o.common, kOptJson | kOptQuiet | kOptForce);

  auto* init = app.add_subcommand("init", "Create a ledger directory with its signed genesis; the key is the operator's");
  ledger_arg(init);
  key_opt(init, "The operator's secret key: it alone credits deposits and posts beacons");
  init->add_option("--note", o.note, "A note in the genesis (at most 256 bytes)");
  add_common_options(*init, o.common, kOptJson | kOptQuiet);

  auto* deposit = app.add_subcommand("deposit", "Operator: credit ACCOUNT with AMOUNT credits");
  ledger_arg(deposit);
  key_opt(deposit, "The operator's secret key");
  deposit->add_option("--to", o.to, "Account: public key (64 hex digits) or a .pub/.key file")->required();
  deposit->add_option("--amount", o.amount, "Credits (1 to 2^50)")->required();
  event_opts(deposit);

  auto* beacon = app.add_subcommand("beacon", "Operator: post public randomness (the forced-error draw); beacons are also the clock");
  ledger_arg(beacon);
  key_opt(beacon, "The operator's secret key");
  beacon->add_option("--value", o.value, "The beacon: 64 hex digits (default: random)");
  beacon->add_option("--text", o.text, "The beacon as text (e.g. a drand round), hashed");
  beacon->add_option("--count", o.count, "Post this many beacons (to let logical time pass)")->check(CLI::Range(1, 100000));
  event_opts(beacon);

  auto* post = app.add_subcommand("post", "Submitter: post a task with its bounty, fee, stakes and windows; prints the task id");
  ledger_arg(post);
  key_opt(post, "The submitter's secret key");
  post->add_option("--task", o.task_file, "The task file (pol-task)")->required();
  post->add_option("--bounty", o.amount, "The solver's reward")->required()->check(CLI::Range(uint64_t(1), kMaxAmount));
  post->add_option("--fee", o.fee, "The verifiers' fee (default: a tenth of the bounty)")->check(CLI::Range(int64_t(0), int64_t(kMaxAmount)));
  post->add_option("--solver-stake", o.solver_stake, "Stake a claim must lock (default: the bounty)")->check(CLI::Range(int64_t(0), int64_t(kMaxAmount)));
  post->add_option("--verifier-stake", o.verifier_stake, "Stake a verdict must lock (default: the fee)")->check(CLI::Range(int64_t(0), int64_t(kMaxAmount)));
  post->add_option("--challenge-stake", o.challenge_stake, "Stake a challenge must lock (default: the fee)")->check(CLI::Range(int64_t(0), int64_t(kMaxAmount)));
  post->add_option("--claim-window", o.claim_window, "Events during which the task may be claimed (default 100)");
  post->add_option("--verify-window", o.verify_window, "Events after the claim for verdicts (default 20; ≥ 2)");
  post->add_option("--challenge-window", o.challenge_window, "Further events for challenges (default 20)");
  event_opts(post);

  auto* claim = app.add_subcommand("claim", "Solver: claim a task with a proof (its Merkle root) and a stake");
  ledger_arg(claim);
  key_opt(claim, "The solver's secret key");
  claim->add_option("--task-id", o.task, "The task (its post's event number)")->required();
  claim->add_option("--proof", o.proof, "The proof directory (pol-train)")->required();
  claim->add_option("--stake", o.stake, "Stake (default: the task's solver stake)")->check(CLI::Range(int64_t(0), int64_t(kMaxAmount)));
  event_opts(claim);

  auto* reveal = app.add_subcommand("reveal", "Solver: open the forced-error draw; when forced, name the decoy proof");
  ledger_arg(reveal);
  key_opt(reveal, "The solver's secret key");
  reveal->add_option("--task-id", o.task, "The task")->required();
  reveal->add_option("--decoy", o.decoy, "The deliberately wrong proof (pol-forge --inject-fault), when the draw forces one");
  event_opts(reveal);

  auto* verdict = app.add_subcommand("verdict", "Verifier: post a verdict (pol-verify's file) on a claim or its decoy, with a stake");
  ledger_arg(verdict);
  key_opt(verdict, "The verifier's secret key");
  verdict->add_option("--task-id", o.task, "The task")->required();
  verdict->add_option("--verdict", o.verdict, "The verdict file (pol-verify -o)")->required();
  verdict->add_option("--stake", o.stake, "Stake (default: the task's verifier stake)")->check(CLI::Range(int64_t(0), int64_t(kMaxAmount)));
  event_opts(verdict);

  auto* challenge = app.add_subcommand("challenge", "Whistleblower: challenge a claim with a dispute (pol-bisect), with a stake");
  ledger_arg(challenge);
  key_opt(challenge, "The whistleblower's secret key");
  challenge->add_option("--task-id", o.task, "The task")->required();
  challenge->add_option("--dispute", o.dispute, "The dispute file (pol-bisect -o), with a pinpointed op")->required();
  challenge->add_option("--stake", o.stake, "Stake (default: the task's challenge stake)")->check(CLI::Range(int64_t(0), int64_t(kMaxAmount)));
  event_opts(challenge);

  auto* rule = app.add_subcommand("rule", "Anyone: recompute disputes with the referee and append the rulings");
  ledger_arg(rule);
  key_opt(rule, "The signer's secret key (any key)");
  rule->add_option("--challenge", o.challenge, "Only this challenge (its event number); default: every unruled one");
  event_opts(rule);

  auto* settle = app.add_subcommand("settle", "Anyone: rule pending disputes, settle every task whose windows have passed, print the payments and balances");
  ledger_arg(settle);
  key_opt(settle, "The signer's secret key (any key)");
  settle->add_option("-o,--output", o.out, "Write the settlement file (binary, or JSON with --json)");
  settle->add_option("--names", o.names, "Label accounts by the NAME.pub files in this directory");
  settle->add_option("--data-dir", o.data_dir, "Where a task's dataset is (only a load_batch dispute needs it)");
  add_common_options(*settle, o.common, kOptJson | kOptQuiet | kOptForce | kOptThreads);

  auto* validate = app.add_subcommand("validate", "Check every record (framing, signatures, chain, rules); print balances");
  ledger_arg(validate);
  validate->add_option("-o,--output", o.out, "Write the settlement file (binary, or JSON with --json)");
  validate->add_option("--names", o.names, "Label accounts by the NAME.pub files in this directory");
  validate->add_option("--data-dir", o.data_dir, "Where a task's dataset is (only a load_batch dispute needs it)");
  add_common_options(*validate, o.common, kOptJson | kOptQuiet | kOptForce | kOptThreads);

  auto* append = app.add_subcommand("append", "Append signed event files (from -o), in order, all or none");
  ledger_arg(append);
  append->add_option("EVENT", o.files, "Event files (binary or JSON)")->required();
  append->add_option("--data-dir", o.data_dir, "Where a task's dataset is (only a load_batch dispute needs it)");
  add_common_options(*append, o.common, kOptJson | kOptQuiet | kOptThreads);

  auto* sign = app.add_subcommand("sign", "Sign an event file's event with KEY (as its actor): offline signing; -o the signed event file");
  sign->add_option("EVENT", o.verdict, "Event file (binary or JSON), its signature ignored")->required();
  key_opt(sign, "The signer's secret key");
  sign->add_option("-o,--output", o.out, "The signed event file")->required();
  add_common_options(*sign, o.common, kOptJson | kOptQuiet | kOptForce);

  auto* repair = app.add_subcommand("repair", "Truncate a torn last record (an interrupted append); nothing else");
  ledger_arg(repair);
  add_common_options(*repair, o.common, kOptQuiet | kOptThreads);

  return run_tool("ledger-settle", argc, argv, app, [&]() -> int {
    apply_common_options(o.common);
    if (*keygen) {
      const std::string sk = keyname + ".key", pk = keyname + ".pub";
      check_output_path(sk, {}, o.common.force);
      check_output_path(pk, {}, o.common.force);
      const KeyPair k = generate_key();
      if (file_exists(sk)) ::unlink(sk.c_str());
      write_secret_key(sk, k);
      const std::string pub = hex(k.pk.data(), 32) + "\n";
      write_file_atomic(pk, Bytes(pub.begin(), pub.end()), true);
      if (o.common.json)
        std::printf("{\"public\": \"%s\", \"secretKey\": \"%s\", \"publicKey\": \"%s\"}\n", hex(k.pk.data(), 32).c_str(), sk.c_str(), pk.c_str());
      else
        std::printf("%s\n", hex(k.pk.data(), 32).c_str());
      return kExitOk;
    }
    if (*init) {
      const KeyPair k = read_secret_key(o.key);
      const Record r = create_ledger(o.ledger, k, o.note);
      note(o.common, "created ledger " + o.ledger + ", chain id " + hex(r.hash) + ", operator " + short_key(k.pk));
      std::printf("%s\n", hex(r.hash).c_str());
      return kExitOk;
    }
    if (*deposit)
      return emit(o, [&](const State&) {
        Event e;
        e.kind = Kind::Deposit;
        e.account = parse_public_key(o.to);
        e.amount = o.amount;
        return std::vector<Event>{e};
      });
    if (*beacon) {
      if (!o.value.empty() && !o.text.empty()) usage_error("give --value or --text, not both");
      if (o.count > 1 && (!o.value.empty() || !o.text.empty())) usage_error("--count posts random beacons; drop --value/--text");
      return emit(o, [&](const State&) {
        std::vector<Event> es;
        for (uint64_t i = 0; i < o.count; i++) {
          Event e;
          e.kind = Kind::Beacon;
          e.h1 = parse_hash_or_text(o);
          es.push_back(e);
        }
        return es;
      });
    }
    if (*post) {
      const LoadedTask task = load_task(o.task_file);
      return emit(o, [&](const State&) {
        Event e;
        e.kind = Kind::Post;
        e.h1 = task.hash;
        e.amount = o.amount;
        e.fee = or_default(o.fee, o.amount / 10);
        e.solver_stake = or_default(o.solver_stake, o.amount);
        e.verifier_stake = or_default(o.verifier_stake, e.fee);
        e.challenge_stake = or_default(o.challenge_stake, e.fee);
        e.claim_window = o.claim_window;
        e.verify_window = o.verify_window;
        e.challenge_window = o.challenge_window;
        return std::vector<Event>{e};
      });
    }
    if (*claim) {
      const Hash root = proof_root(o.proof);
      const KeyPair k = read_secret_key(o.key);
      return emit(o, [&](const State& st) {
        const Task& t = find_task(st, o.task);
        Event e;
        e.kind = Kind::Claim;
        e.task = o.task;
        e.h1 = root;
        const Hash secret = claim_secret(k, st.chain(), o.task, root);
        e.h2 = blake2b(secret.data(), 32);
        e.amount = or_default(o.stake, t.solver_stake);
        return std::vector<Event>{e};
      });
    }
    if (*reveal) {
      const KeyPair k = read_secret_key(o.key);
      return emit(o, [&](const State& st) {
        const Task& t = find_task(st, o.task);
        if (!t.claimed) usage_error("task " + std::to_string(o.task) + " has no claim");
        Event e;
        e.kind = Kind::Reveal;
        e.task = o.task;
        e.h1 = claim_secret(k, st.chain(), o.task, t.root);
        const auto b = st.beacon_after(t.claim_seq);
        if (!b) usage_error("no beacon since the claim yet: wait for the operator's next beacon");
        const bool forced = forced_error(*b, e.h1);
        if (forced && o.decoy.empty())
          throw Error(kExitNo, "the draw forces an error on task " + std::to_string(o.task) +
                                   ": train a deliberately wrong proof (pol-forge --inject-fault) and pass it with --decoy");
        if (forced) {
          e.has_h2 = true;
          e.h2 = proof_root(o.decoy);
        } else if (!o.decoy.empty()) {
          usage_error("the draw does not force an error on task " + std::to_string(o.task) + ": drop --decoy");
        }
        note(o.common, std::string("task ") + std::to_string(o.task) + ": the forced-error draw says " + (forced ? "FORCED" : "not forced"));
        return std::vector<Event>{e};
      });
    }
    if (*verdict) {
      auto msg = Message<schema::Verdict>::read(o.verdict, kSmallFileLimit, "verdict");
      Hash task_h, root, vh;
      bool accepted = false;
      guard_input("verdict '" + o.verdict + "'", [&] {
        auto v = msg.root();
        task_h = hash_field(v.getTaskHash());
        root = hash_field(v.getProofRoot());
        accepted = v.getAccepted();
        vh = canonical_hash(v);
        return 0;
      });
      return emit(o, [&](const State& st) {
        const Task& t = find_task(st, o.task);
        if (task_h != t.task_hash) bad_input("verdict '" + o.verdict + "': about another task than task " + std::to_string(o.task));
        Event e;
        e.kind = Kind::Verdict;
        e.task = o.task;
        e.h1 = root;
        e.flag = accepted;
        e.h2 = vh;
        e.amount = or_default(o.stake, t.verifier_stake);
        return std::vector<Event>{e};
      });
    }
    if (*challenge) {
      const Hash d = store_dispute(o.ledger, read_file(o.dispute, kTensorFileLimit, "dispute"), "dispute '" + o.dispute + "'");
      return emit(o, [&](const State& st) {
        const Task& t = find_task(st, o.task);
        Event e;
        e.kind = Kind::Challenge;
        e.task = o.task;
        e.h1 = d;
        e.amount = or_default(o.stake, t.challenge_stake);
        return std::vector<Event>{e};
      });
    }
    auto rulings = [&](const State& st, std::vector<Event>& es, int64_t only) {
      auto oracle = referee_oracle(o.ledger, o.data_dir);
      for (auto [task, seq] : st.unruled()) {
        if (only >= 0 && uint64_t(only) != seq) continue;
        const Task& t = st.tasks().at(task);
        const ChallengeRec& c = *std::find_if(t.challenges.begin(), t.challenges.end(), [&](const ChallengeRec& x) { return x.seq == seq; });
        const DisputeRuling r = oracle(c.dispute, t.task_hash, t.root);
        Event e;
        e.kind = Kind::Ruling;
        e.task = task;
        e.challenge = seq;
        e.flag = r.solver_wrong;
        e.h1 = r.referee;
        note(o.common, "task " + std::to_string(task) + ", challenge " + std::to_string(seq) + ": the referee's recomputation says the solver is " +
                           (r.solver_wrong ? "WRONG" : "right"));
        es.push_back(e);
      }
    };
    if (*rule) {
      return emit(o, [&](const State& st) {
        std::vector<Event> es;
        rulings(st, es, o.challenge);
        if (o.challenge >= 0 && es.empty()) usage_error("--challenge " + std::to_string(o.challenge) + ": no such unruled challenge");
        if (es.empty()) note(o.common, "no challenge waits for a ruling");
        return es;
      });
    }
    const auto names = load_names(o.names);
    if (*settle) {
      if (!o.out.empty()) check_output_path(o.out, {}, o.common.force);
      const KeyPair k = read_secret_key(o.key);
      std::vector<uint64_t> settled;
      State st = append_events(o.ledger, k, referee_oracle(o.ledger, o.data_dir), [&](const State& s) {
        std::vector<Event> es;
        rulings(s, es, -1);  // first: a task waiting for a ruling is due only after it
        return es;
      });
      st = append_events(o.ledger, k, referee_oracle(o.ledger, o.data_dir), [&](const State& s) {
        std::vector<Event> es;
        const auto due = s.due_tasks();
        for (uint64_t id : due) {
          Event e;
          e.kind = Kind::Settle;
          e.task = id;
          es.push_back(e);
          settled.push_back(id);
        }
        return es;
      });
      if (!o.common.json || !o.out.empty()) {
        if (settled.empty()) std::printf("nothing to settle: every due task is settled already\n");
        for (uint64_t id : settled) print_task(st.tasks().at(id), names);
        print_state(o.ledger, st, names);
      }
      write_settlement(o, st, true);
      return kExitOk;
    }
    if (*validate) {
      if (!o.out.empty()) check_output_path(o.out, {}, o.common.force);
      ValidateStats stats;
      Progress prog(o.common, 0, "bytes");
      State st = validate_ledger(o.ledger, referee_oracle(o.ledger, o.data_dir), &stats, [&](uint64_t done, uint64_t total) {
        prog.set_total(int64_t(total));
        prog.update(int64_t(done));
      });
      prog.finish();
      if (!o.common.json || !o.out.empty()) {
        print_state(o.ledger, st, names);
        for (const auto& [id, t] : st.tasks())
          if (t.settled) print_task(t, names);
      }
      note(o.common, std::to_string(stats.records) + " records validated in " + std::to_string(stats.seconds) + " s (" +
                         std::to_string(int64_t(double(stats.records) / std::max(stats.seconds, 1e-9))) + " events/s)");
      write_settlement(o, st, true);
      return kExitOk;
    }
    if (*append) {
      std::vector<Record> rs;
      for (const std::string& f : o.files) rs.push_back(record_from_file(read_file(f, 1 << 20, "event file"), "event file '" + f + "'"));
      State st = append_records(o.ledger, rs, referee_oracle(o.ledger, o.data_dir));
      for (const Record& r : rs) report_event(o, r);
      note(o.common, "appended " + std::to_string(rs.size()) + " event(s); the ledger now has " + std::to_string(st.next_seq()));
      return kExitOk;
    }
    if (*sign) {
      check_output_path(o.out, {o.verdict}, o.common.force);
      const KeyPair k = read_secret_key(o.key);
      const Record in = record_from_file(read_file(o.verdict, 1 << 20, "event file"), "event file '" + o.verdict + "'");
      const Record r = sign_event(in.event, k);
      write_file_atomic(o.out, record_to_file(r, o.common.json), o.common.json);
      note(o.common, std::string("signed ") + kind_name(r.event.kind) + " event " + std::to_string(r.event.seq) + " as " + short_key(k.pk));
      return kExitOk;
    }
    if (*repair) {
      uint64_t removed = 0;
      const uint64_t kept = repair_ledger(o.ledger, referee_oracle(o.ledger, o.data_dir), &removed);
      note(o.common, removed ? "removed a torn last record (" + std::to_string(removed) + " bytes); " + std::to_string(kept) + " records kept"
                             : "nothing to repair: " + std::to_string(kept) + " records, all intact");
      return kExitOk;
    }
    return kExitUsage;
  });
}
