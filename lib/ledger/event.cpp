// Keys, the canonical encoding of events, signatures and event files.
#include <capnp/message.h>
#include <capnp/serialize.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "core/error.hpp"
#include "io/message.hpp"
#include "io/version.hpp"
#include "ledger/ed25519_batch.hpp"
#include "ledger/ledger.hpp"
#include "schema/ledger.capnp.h"

namespace pw::ledger {

namespace {

constexpr const char* kSecretKeyHeader = "proofwork-ed25519-secret-key";

void init_sodium() {
  static const bool ok = sodium_init() >= 0;
  if (!ok) internal_error("libsodium failed to initialise");
}

template <size_t N>
std::array<uint8_t, N> fixed(capnp::Data::Reader d, const char* field) {
  check_input(d.size() == N, std::string("event field ") + field + ": " + std::to_string(d.size()) + " bytes, expected " +
                                 std::to_string(N));
  std::array<uint8_t, N> out;
  std::memcpy(out.data(), d.begin(), N);
  return out;
}

template <size_t N>
capnp::Data::Reader data(const std::array<uint8_t, N>& a) {
  return capnp::Data::Reader(a.data(), N);
}

std::string trim(const Bytes& b) {
  std::string s(b.begin(), b.end());
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

void fill(schema::LedgerEvent::Builder b, const Event& e) {
  b.setSeq(e.seq);
  if (e.kind != Kind::Genesis) {
    b.setChainId(data(e.chain));
    b.setPrev(data(e.prev));
  }
  b.setActor(data(e.actor));
  switch (e.kind) {
    case Kind::Genesis: {
      auto g = b.initGenesis();
      g.setNonce(data(e.h1));
      g.setNote(e.note);
      g.setFormatVersion(e.version);  // 0 (a ledger begun before versions) stays absent
      break;
    }
    case Kind::Deposit: {
      auto d = b.initDeposit();
      d.setAccount(data(e.account));
      d.setAmount(e.amount);
      break;
    }
    case Kind::Beacon: b.initBeacon().setValue(data(e.h1)); break;
    case Kind::Post: {
      auto p = b.initPost();
      p.setTaskHash(data(e.h1));
      p.setBounty(e.amount);
      p.setVerifierFee(e.fee);
      p.setSolverStake(e.solver_stake);
      p.setVerifierStake(e.verifier_stake);
      p.setChallengeStake(e.challenge_stake);
      p.setClaimWindow(e.claim_window);
      p.setVerifyWindow(e.verify_window);
      p.setChallengeWindow(e.challenge_window);
      break;
    }
    case Kind::Claim: {
      auto c = b.initClaim();
      c.setTask(e.task);
      c.setProofRoot(data(e.h1));
      c.setCommitment(data(e.h2));
      c.setStake(e.amount);
      break;
    }
    case Kind::Reveal: {
      auto r = b.initReveal();
      r.setTask(e.task);
      r.setSecret(data(e.h1));
      if (e.has_h2) r.setDecoyRoot(data(e.h2));
      break;
    }
    case Kind::Verdict: {
      auto v = b.initVerdict();
      v.setTask(e.task);
      v.setProofRoot(data(e.h1));
      v.setAccept(e.flag);
      v.setVerdictHash(data(e.h2));
      v.setStake(e.amount);
      break;
    }
    case Kind::Challenge: {
      auto c = b.initChallenge();
      c.setTask(e.task);
      c.setDisputeHash(data(e.h1));
      c.setStake(e.amount);
      break;
    }
    case Kind::Ruling: {
      auto r = b.initRuling();
      r.setTask(e.task);
      r.setChallenge(e.challenge);
      r.setSolverWrong(e.flag);
      r.setRefereeHash(data(e.h1));
      break;
    }
    case Kind::Settle: b.initSettle().setTask(e.task); break;
  }
}

Event read(schema::LedgerEvent::Reader r) {
  Event e;
  e.seq = r.getSeq();
  e.actor = fixed<32>(r.getActor(), "actor");
  switch (r.which()) {
    case schema::LedgerEvent::GENESIS: {
      e.kind = Kind::Genesis;
      check_input(!r.hasChainId() && !r.hasPrev(), "the genesis has a chain id or a previous hash");
      e.h1 = fixed<32>(r.getGenesis().getNonce(), "nonce");
      e.note = r.getGenesis().getNote().cStr();
      check_input(e.note.size() <= kMaxNote, "genesis note over " + std::to_string(kMaxNote) + " bytes");
      e.version = r.getGenesis().getFormatVersion();
      check_version(FileKind::Ledger, e.version, "the genesis");
      return e;
    }
    case schema::LedgerEvent::DEPOSIT:
      e.kind = Kind::Deposit;
      e.account = fixed<32>(r.getDeposit().getAccount(), "account");
      e.amount = r.getDeposit().getAmount();
      break;
    case schema::LedgerEvent::BEACON:
      e.kind = Kind::Beacon;
      e.h1 = fixed<32>(r.getBeacon().getValue(), "beacon value");
      break;
    case schema::LedgerEvent::POST: {
      auto p = r.getPost();
      e.kind = Kind::Post;
      e.h1 = fixed<32>(p.getTaskHash(), "taskHash");
      e.amount = p.getBounty();
      e.fee = p.getVerifierFee();
      e.solver_stake = p.getSolverStake();
      e.verifier_stake = p.getVerifierStake();
      e.challenge_stake = p.getChallengeStake();
      e.claim_window = p.getClaimWindow();
      e.verify_window = p.getVerifyWindow();
      e.challenge_window = p.getChallengeWindow();
      break;
    }
    case schema::LedgerEvent::CLAIM: {
      auto c = r.getClaim();
      e.kind = Kind::Claim;
      e.task = c.getTask();
      e.h1 = fixed<32>(c.getProofRoot(), "proofRoot");
      e.h2 = fixed<32>(c.getCommitment(), "commitment");
      e.amount = c.getStake();
      break;
    }
    case schema::LedgerEvent::REVEAL: {
      auto v = r.getReveal();
      e.kind = Kind::Reveal;
      e.task = v.getTask();
      e.h1 = fixed<32>(v.getSecret(), "secret");
      e.has_h2 = v.hasDecoyRoot();
      if (e.has_h2) e.h2 = fixed<32>(v.getDecoyRoot(), "decoyRoot");
      break;
    }
    case schema::LedgerEvent::VERDICT: {
      auto v = r.getVerdict();
      e.kind = Kind::Verdict;
      e.task = v.getTask();
      e.h1 = fixed<32>(v.getProofRoot(), "proofRoot");
      e.flag = v.getAccept();
      e.h2 = fixed<32>(v.getVerdictHash(), "verdictHash");
      e.amount = v.getStake();
      break;
    }
    case schema::LedgerEvent::CHALLENGE: {
      auto c = r.getChallenge();
      e.kind = Kind::Challenge;
      e.task = c.getTask();
      e.h1 = fixed<32>(c.getDisputeHash(), "disputeHash");
      e.amount = c.getStake();
      break;
    }
    case schema::LedgerEvent::RULING: {
      auto v = r.getRuling();
      e.kind = Kind::Ruling;
      e.task = v.getTask();
      e.challenge = v.getChallenge();
      e.flag = v.getSolverWrong();
      e.h1 = fixed<32>(v.getRefereeHash(), "refereeHash");
      break;
    }
    case schema::LedgerEvent::SETTLE:
      e.kind = Kind::Settle;
      e.task = r.getSettle().getTask();
      break;
    default: bad_input("unknown event kind (written by a newer version?)");
  }
  e.chain = fixed<32>(r.getChainId(), "chainId");
  e.prev = fixed<32>(r.getPrev(), "prev");
  return e;
}

}  // namespace

const char* kind_name(Kind k) {
  static const char* names[] = {"genesis", "deposit", "beacon", "post", "claim",
                                "reveal", "verdict", "challenge", "ruling", "settle"};
  return names[int(k)];
}

std::string short_key(const PublicKey& k) { return hex(k.data(), k.size()).substr(0, 12); }

KeyPair generate_key() {
  init_sodium();
  KeyPair k;
  crypto_sign_keypair(k.pk.data(), k.sk.data());
  return k;
}

void write_secret_key(const std::string& path, const KeyPair& k) {
  const std::string text = std::string(kSecretKeyHeader) + "\n" + hex(k.sk.data(), k.sk.size()) + "\n";
  AtomicFile f(path, false, 0600);
  f.write(text.data(), text.size());
  f.commit();
}

void write_key_pair(const std::string& name, const KeyPair& k) {
  write_secret_key(name + ".key", k);
  const std::string pub = hex(k.pk.data(), k.pk.size()) + "\n";
  write_file_atomic(name + ".pub", pub.data(), pub.size(), true);
}

KeyPair read_secret_key(const std::string& path) {
  init_sodium();
  struct stat st;
  if (::stat(path.c_str(), &st) == 0 && (st.st_mode & 077) != 0)
    bad_input("secret key '" + path + "': readable by others (mode " + std::to_string((st.st_mode >> 6) & 7) +
              std::to_string((st.st_mode >> 3) & 7) + std::to_string(st.st_mode & 7) + "); chmod 600 it");
  const std::string text = trim(read_file(path, 4096, "secret key"));
  const std::string head = std::string(kSecretKeyHeader) + "\n";
  check_input(text.rfind(head, 0) == 0, "secret key '" + path + "': not a proofwork secret key (ledger-settle keygen)");
  std::vector<uint8_t> raw;
  try {
    raw = unhex(std::string_view(text).substr(head.size()));
  } catch (const Error&) {
    bad_input("secret key '" + path + "': not 128 hexadecimal digits");
  }
  check_input(raw.size() == 64, "secret key '" + path + "': not 128 hexadecimal digits");
  KeyPair k;
  std::memcpy(k.sk.data(), raw.data(), 64);
  // The public half is stored in the secret key; recompute it from the seed to be sure.
  KeyPair check;
  crypto_sign_seed_keypair(check.pk.data(), check.sk.data(), k.sk.data());
  check_input(check.sk == k.sk, "secret key '" + path + "': its public half does not match its seed (damaged)");
  k.pk = check.pk;
  return k;
}

PublicKey parse_public_key(const std::string& s) {
  std::string text = s;
  if (text.size() != 64 || text.find('/') != std::string::npos || file_exists(text)) {
    if (!file_exists(text)) bad_input("public key '" + s + "': neither 64 hexadecimal digits nor a file");
    if (text.size() > 4 && text.compare(text.size() - 4, 4, ".key") == 0) return read_secret_key(text).pk;
    text = trim(read_file(text, 4096, "public key"));
  }
  std::vector<uint8_t> raw;
  try {
    raw = unhex(text);
  } catch (const Error&) {
    bad_input("public key '" + s + "': not 64 hexadecimal digits");
  }
  PublicKey k;
  std::memcpy(k.data(), raw.data(), 32);
  return k;
}

Bytes encode_event(const Event& e) {
  capnp::MallocMessageBuilder mb;
  fill(mb.initRoot<schema::LedgerEvent>(), e);
  auto words = capnp::canonicalize(mb.getRoot<schema::LedgerEvent>().asReader());
  auto bytes = words.asBytes();
  return Bytes(bytes.begin(), bytes.end());
}

Event decode_event(const uint8_t* body, size_t n) {
  check_input(n % 8 == 0 && n >= 8 && n <= kMaxBody, "event encoding of " + std::to_string(n) + " bytes");
  // The body is one canonical segment (no segment table). Aligned callers (the mmapped
  // log) are read in place; others through an aligned copy.
  kj::Array<capnp::word> copy;
  const capnp::word* words = reinterpret_cast<const capnp::word*>(body);
  if (reinterpret_cast<uintptr_t>(body) % alignof(capnp::word) != 0) {
    copy = kj::heapArray<capnp::word>(n / 8);
    std::memcpy(copy.begin(), body, n);
    words = copy.begin();
  }
  try {
    kj::ArrayPtr<const capnp::word> seg(words, n / 8);
    capnp::ReaderOptions opt;
    opt.traversalLimitInWords = n / 8 * 2 + 16;
    opt.nestingLimit = 8;
    capnp::SegmentArrayMessageReader reader(kj::arrayPtr(&seg, 1), opt);
    check_input(reader.isCanonical(), "event encoding is not canonical");
    return read(reader.getRoot<schema::LedgerEvent>());
  } catch (const kj::Exception& ex) {
    bad_input(std::string("malformed event (") + ex.getDescription().cStr() + ")");
  }
}

Hash record_hash(const uint8_t* body, size_t n, const Signature& sig) {
  return Hasher().update(body, n).update(sig.data(), sig.size()).final();
}

Record sign_event(const Event& e, const KeyPair& k) {
  init_sodium();
  Record r;
  r.event = e;
  r.event.actor = k.pk;
  r.body = encode_event(r.event);
  crypto_sign_detached(r.sig.data(), nullptr, r.body.data(), r.body.size(), k.sk.data());
  r.hash = record_hash(r.body.data(), r.body.size(), r.sig);
  return r;
}

bool verify_record(const Record& r) {
  return ed25519::verify(r.sig.data(), r.body.data(), r.body.size(), r.event.actor.data());
}

Bytes record_to_file(const Record& r, bool json) {
  capnp::MallocMessageBuilder mb;
  auto root = mb.initRoot<schema::LedgerRecord>();
  fill(root.initEvent(), r.event);
  root.setSignature(data(r.sig));
  root.setFormatVersion(current_version(FileKind::Ledger));
  return message_bytes<schema::LedgerRecord>(mb, json);
}

Record record_from_file(const Bytes& b, const std::string& what) {
  try {
    const auto msg = Message<schema::LedgerRecord>::parse(b, what);
    return guard_input(what, [&] {
      const auto root = msg.root();
      check_version(FileKind::Ledger, root.getFormatVersion(), what);
      check_input(root.hasEvent(), what + ": no event");
      Record r;
      r.event = read(root.getEvent());
      r.sig = fixed<64>(root.getSignature(), "signature");
      r.body = encode_event(r.event);  // the signed bytes: the canonical encoding, however the file spelt it
      r.hash = record_hash(r.body.data(), r.body.size(), r.sig);
      return r;
    });
  } catch (const Error& ex) {
    if (ex.code != kExitBadInput) throw;
    if (std::string(ex.what()).rfind(what + ": ", 0) == 0) throw;  // already names the file
    bad_input(what + ": " + ex.what());
  }
}

Record read_event_file(const std::string& path) {
  return record_from_file(read_file(path, 1 << 20, "event file"), "event file '" + path + "'");
}

bool forced_error(const Hash& beacon, const Hash& secret) {
  const Hash h = Hasher().update_str("proofwork forced error").update(beacon.data(), 32).update(secret.data(), 32).final();
  uint64_t x = 0;
  for (int i = 7; i >= 0; i--) x = (x << 8) | h[size_t(i)];
  return x % kBasisPoints < kForcedErrorRateBp;
}

Hash claim_secret(const KeyPair& k, const Hash& chain, uint64_t task, const Hash& root) {
  Hash out;
  uint8_t msg[32 + 8 + 32];
  std::memcpy(msg, chain.data(), 32);
  for (int i = 0; i < 8; i++) msg[32 + i] = uint8_t(task >> (8 * i));
  std::memcpy(msg + 40, root.data(), 32);
  crypto_generichash(out.data(), out.size(), msg, sizeof msg, k.sk.data(), 32);  // keyed by the seed
  return out;
}

}  // namespace pw::ledger
