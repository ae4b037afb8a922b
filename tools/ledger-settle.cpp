// ledger-settle: the market's ledger. Keys, signed events appended to a hash-chained
// log, validation of a whole ledger and Truebit-style settlement (man ledger-settle).
#include <cstdio>

#include "cli/cli.hpp"
#include "core/error.hpp"
#include "io/message.hpp"
#include "ledger/ledger.hpp"
#include "ledger/market.hpp"
#include "proof/task_file.hpp"

using namespace pw;
using namespace pw::ledger;

namespace {

struct Opts {
  CommonOptions common;
  std::string ledger, key, out, names, data_dir;
  // event fields
  std::string to, value, text, task_file, proof, decoy, verdict, dispute, event;
  uint64_t amount = 0, task = 0, count = 1;
  int64_t stake = -1, challenge = -1;
  PostTerms terms;
  std::string note;                 // init
  std::vector<std::string> files;   // append
};

// One line per event on stdout: its seq, or with --json its seq, kind and record hash.
void print_records(const Opts& o, const std::vector<Record>& rs) {
  for (const Record& r : rs) {
    if (o.common.json)
      std::printf("{\"seq\": %llu, \"kind\": \"%s\", \"hash\": \"%s\"}\n", (unsigned long long)r.event.seq,
                  kind_name(r.event.kind), hex(r.hash).c_str());
    else
      std::printf("%llu\n", (unsigned long long)r.event.seq);
  }
}

// Appends the events `make` builds; with -o, writes the one event as a signed event file.
int emit(Opts& o, const MakeEvents& make) {
  const KeyPair k = read_secret_key(o.key);
  const DisputeOracle referee = referee_oracle(o.ledger, o.data_dir);
  if (o.out.empty()) {
    std::vector<Record> rs;
    append_events(o.ledger, k, referee, make, &rs);
    print_records(o, rs);
    for (const Record& r : rs) note(o.common, std::string("appended ") + kind_name(r.event.kind) + " event " + std::to_string(r.event.seq));
    return kExitOk;
  }
  check_output_path(o.out, {}, o.common.force);
  const Record r = prepare_event(o.ledger, k, referee, make);
  write_file_atomic(o.out, record_to_file(r, o.common.json), o.common.json);
  note(o.common, "wrote " + std::string(kind_name(r.event.kind)) + " event " + std::to_string(r.event.seq) + " to " + o.out +
                     " (append it before any other event: it names the current head)");
  return kExitOk;
}

// settle and validate: `text` on stdout unless the settlement goes there as JSON; the
// settlement file with -o, or on stdout with --json.
void report(const Opts& o, const State& st, const std::string& text) {
  if (!o.common.json || !o.out.empty()) std::fputs(text.c_str(), stdout);
  if (!o.out.empty() || o.common.json)
    write_file_atomic(o.out.empty() ? "-" : o.out, settlement_file(st, o.common.json), o.common.json);
}

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
  const std::string data_help = "Where a task's dataset is (only a load_batch dispute needs it)";
  const auto amount = CLI::Range(int64_t(0), int64_t(kMaxAmount));
  // Event numbers and windows: digits only, so that "-1" is a usage error rather than
  // wrapped around to 2^64 − 1 by the conversion to an unsigned field.
  const CLI::Validator whole(
      [](std::string& s) {
        return !s.empty() && s.find_first_not_of("0123456789") == std::string::npos ? std::string()
                                                                                     : "'" + s + "' is not a whole number";
      },
      "UINT");
  // A subcommand that signs events: LEDGER and the signer's key; its own options; then
  // (event_tail, below) -o to write the event instead, and the common ones.
  auto event_cmd = [&](const char* name, const char* help, const char* who) {
    CLI::App* s = app.add_subcommand(name, help);
    ledger_arg(s);
    key_opt(s, who);
    return s;
  };
  auto event_tail = [&](CLI::App* s) {
    s->add_option("-o,--output", o.out, "Write the signed event to FILE instead of appending it (for 'append')");
    s->add_option("--data-dir", o.data_dir, data_help);
    add_common_options(*s, o.common, kOptJson | kOptQuiet | kOptForce | kOptThreads);
  };
  auto task_opts = [&](CLI::App* s, const char* stake_help) {
    s->add_option("--task-id", o.task, "The task (its post's event number)")->required()->check(whole);
    if (stake_help) s->add_option("--stake", o.stake, stake_help)->check(amount);
  };
  // settle and validate: the settlement file and the report's labels.
  auto report_opts = [&](CLI::App* s) {
    s->add_option("-o,--output", o.out, "Write the settlement file (binary, or JSON with --json)");
    s->add_option("--names", o.names, "Label accounts by the NAME.pub files in this directory");
    s->add_option("--data-dir", o.data_dir, data_help);
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

  auto* deposit = event_cmd("deposit", "Operator: credit ACCOUNT with AMOUNT credits", "The operator's secret key");
  deposit->add_option("--to", o.to, "Account: public key (64 hex digits) or a .pub/.key file")->required();
  deposit->add_option("--amount", o.amount, "Credits (1 to 2^50)")->required()->check(CLI::Range(uint64_t(1), kMaxAmount));

  auto* beacon = event_cmd("beacon", "Operator: post public randomness (the forced-error draw); beacons are also the clock",
                           "The operator's secret key");
  beacon->add_option("--value", o.value, "The beacon: 64 hex digits (default: random)");
  beacon->add_option("--text", o.text, "The beacon as text (e.g. a drand round), hashed");
  beacon->add_option("--count", o.count, "Post this many beacons (to let logical time pass)")->check(CLI::Range(1, 100000));

  auto* post = event_cmd("post", "Submitter: post a task with its bounty, fee, stakes and windows; prints the task id",
                         "The submitter's secret key");
  post->add_option("--task", o.task_file, "The task file (pol-task)")->required();
  post->add_option("--bounty", o.terms.bounty, "The solver's reward")->required()->check(CLI::Range(uint64_t(1), kMaxAmount));
  post->add_option("--fee", o.terms.fee, "The verifiers' fee (default: a tenth of the bounty)")->check(amount);
  post->add_option("--solver-stake", o.terms.solver_stake, "Stake a claim must lock (default: the bounty)")->check(amount);
  post->add_option("--verifier-stake", o.terms.verifier_stake, "Stake a verdict must lock (default: the fee)")->check(amount);
  post->add_option("--challenge-stake", o.terms.challenge_stake, "Stake a challenge must lock (default: the fee)")->check(amount);
  post->add_option("--claim-window", o.terms.claim_window, "Events during which the task may be claimed (default 100)")->check(whole);
  post->add_option("--verify-window", o.terms.verify_window, "Events after the claim for verdicts (default 20; ≥ 2)")->check(whole);
  post->add_option("--challenge-window", o.terms.challenge_window, "Further events for challenges (default 20)")->check(whole);

  auto* claim = event_cmd("claim", "Solver: claim a task with a proof (its Merkle root) and a stake", "The solver's secret key");
  task_opts(claim, "Stake (default: the task's solver stake)");
  claim->add_option("--proof", o.proof, "The proof directory (pol-train)")->required();

  auto* reveal = event_cmd("reveal", "Solver: open the forced-error draw; when forced, name the decoy proof", "The solver's secret key");
  task_opts(reveal, nullptr);
  reveal->add_option("--decoy", o.decoy, "The deliberately wrong proof (pol-forge --inject-fault), when the draw forces one");

  auto* verdict = event_cmd("verdict", "Verifier: post a verdict (pol-verify's file) on a claim or its decoy, with a stake",
                            "The verifier's secret key");
  task_opts(verdict, "Stake (default: the task's verifier stake)");
  verdict->add_option("--verdict", o.verdict, "The verdict file (pol-verify -o)")->required();

  auto* challenge = event_cmd("challenge", "Whistleblower: challenge a claim with a dispute (pol-bisect), with a stake",
                              "The whistleblower's secret key");
  task_opts(challenge, "Stake (default: the task's challenge stake)");
  challenge->add_option("--dispute", o.dispute, "The dispute file (pol-bisect -o), with a pinpointed op")->required();

  auto* rule = event_cmd("rule", "Anyone: recompute disputes with the referee and append the rulings", "The signer's secret key (any key)");
  rule->add_option("--challenge", o.challenge, "Only this challenge (its event number); default: every unruled one")->check(whole);

  auto* settle = app.add_subcommand("settle", "Anyone: rule pending disputes, settle every task whose windows have passed, print the payments and balances");
  ledger_arg(settle);
  key_opt(settle, "The signer's secret key (any key)");
  report_opts(settle);

  auto* validate = app.add_subcommand("validate", "Check every record (framing, signatures, chain, rules); print balances");
  ledger_arg(validate);
  report_opts(validate);
  for (CLI::App* s : {deposit, beacon, post, claim, reveal, verdict, challenge, rule}) event_tail(s);

  auto* append = app.add_subcommand("append", "Append signed event files (from -o), in order, all or none");
  ledger_arg(append);
  append->add_option("EVENT", o.files, "Event files (binary or JSON)")->required();
  append->add_option("--data-dir", o.data_dir, data_help);
  add_common_options(*append, o.common, kOptJson | kOptQuiet | kOptThreads);

  auto* sign = app.add_subcommand("sign", "Sign an event file's event with KEY (as its actor): offline signing; -o the signed event file");
  sign->add_option("EVENT", o.event, "Event file (binary or JSON), its signature ignored")->required();
  key_opt(sign, "The signer's secret key");
  sign->add_option("-o,--output", o.out, "The signed event file")->required();
  add_common_options(*sign, o.common, kOptJson | kOptQuiet | kOptForce);

  auto* repair = app.add_subcommand("repair", "Truncate a torn last record (an interrupted append); nothing else");
  ledger_arg(repair);
  add_common_options(*repair, o.common, kOptQuiet | kOptThreads);

  return run_tool("ledger-settle", argc, argv, app, [&]() -> int {
    apply_common_options(o.common);
    const Notes notes = [&](const std::string& m) { note(o.common, m); };
    auto one = [](Event e) { return std::vector<Event>{e}; };
    if (*keygen) {
      check_output_path(keyname + ".key", {}, o.common.force);
      check_output_path(keyname + ".pub", {}, o.common.force);
      const KeyPair k = generate_key();
      write_key_pair(keyname, k);
      const std::string pk = hex(k.pk.data(), 32);
      if (o.common.json)
        std::printf("{\"public\": \"%s\", \"secretKey\": \"%s.key\", \"publicKey\": \"%s.pub\"}\n", pk.c_str(), keyname.c_str(), keyname.c_str());
      else
        std::printf("%s\n", pk.c_str());
      return kExitOk;
    }
    if (*init) {
      const KeyPair k = read_secret_key(o.key);
      const Record r = create_ledger(o.ledger, k, o.note);
      note(o.common, "created ledger " + o.ledger + ", chain id " + hex(r.hash) + ", operator " + short_key(k.pk));
      std::printf("%s\n", hex(r.hash).c_str());
      return kExitOk;
    }
    if (*deposit) return emit(o, [&](const State&) { return one(deposit_event(parse_public_key(o.to), o.amount)); });
    if (*beacon) return emit(o, [&](const State&) { return beacon_events(o.value, o.text, o.count); });
    if (*post) {
      const LoadedTask task = load_task(o.task_file);
      return emit(o, [&](const State&) { return one(post_event(task.hash, o.terms)); });
    }
    if (*claim) {
      const Hash root = claimed_root(o.proof);
      const KeyPair k = read_secret_key(o.key);
      return emit(o, [&](const State& st) { return one(claim_event(st, k, o.task, root, o.stake)); });
    }
    if (*reveal) {
      const KeyPair k = read_secret_key(o.key);
      return emit(o, [&](const State& st) { return one(reveal_event(st, k, o.task, o.decoy, notes)); });
    }
    if (*verdict) {
      const VerdictSummary v = read_verdict_summary(o.verdict);
      return emit(o, [&](const State& st) { return one(verdict_event(st, o.task, v, o.stake)); });
    }
    if (*challenge) {
      const Hash d = store_dispute(o.ledger, read_file(o.dispute, kTensorFileLimit, "dispute"), "dispute '" + o.dispute + "'");
      return emit(o, [&](const State& st) { return one(challenge_event(st, o.task, d, o.stake)); });
    }
    if (*rule) return emit(o, [&](const State& st) { return ruling_events(st, referee_oracle(o.ledger, o.data_dir), o.challenge, notes); });
    const Names names = load_names(o.names);
    if ((*settle || *validate) && !o.out.empty()) check_output_path(o.out, {}, o.common.force);
    if (*settle) {
      const Settlement s = settle_ledger(o.ledger, read_secret_key(o.key), o.data_dir, notes);
      report(o, s.state, settle_report(o.ledger, s, names));
      return kExitOk;
    }
    if (*validate) {
      ValidateStats stats;
      Progress prog(o.common, 0, "bytes");
      const State st = validate_ledger(o.ledger, referee_oracle(o.ledger, o.data_dir), &stats, [&](uint64_t done, uint64_t total) {
        prog.set_total(int64_t(total));
        prog.update(int64_t(done));
      });
      prog.finish();
      report(o, st, validate_report(o.ledger, st, names));
      note(o.common, std::to_string(stats.records) + " records validated in " + std::to_string(stats.seconds) + " s (" +
                         std::to_string(int64_t(double(stats.records) / std::max(stats.seconds, 1e-9))) + " events/s)");
      note(o.common, "snapshot: " + stats.snapshot + "; rewritten from this validation");
      return kExitOk;
    }
    if (*append) {
      std::vector<Record> rs;
      for (const std::string& f : o.files) rs.push_back(read_event_file(f));
      const State st = append_records(o.ledger, rs, referee_oracle(o.ledger, o.data_dir));
      print_records(o, rs);
      note(o.common, "appended " + std::to_string(rs.size()) + " event(s); the ledger now has " + std::to_string(st.next_seq()));
      return kExitOk;
    }
    if (*sign) {
      check_output_path(o.out, {o.event}, o.common.force);
      const KeyPair k = read_secret_key(o.key);
      const Record r = sign_event(read_event_file(o.event).event, k);
      write_file_atomic(o.out, record_to_file(r, o.common.json), o.common.json);
      note(o.common, std::string("signed ") + kind_name(r.event.kind) + " event " + std::to_string(r.event.seq) + " as " + short_key(k.pk));
      return kExitOk;
    }
    uint64_t removed = 0;  // repair
    const uint64_t kept = repair_ledger(o.ledger, referee_oracle(o.ledger, o.data_dir), &removed);
    note(o.common, removed ? "removed a torn last record (" + std::to_string(removed) + " bytes); " + std::to_string(kept) + " records kept"
                           : "nothing to repair: " + std::to_string(kept) + " records, all intact");
    return kExitOk;
  });
}
