// The settlement file: the state a validation ends in, for people (JSON) and programs.
#include <capnp/message.h>

#include "io/message.hpp"
#include "io/provenance.hpp"
#include "io/version.hpp"
#include "ledger/ledger.hpp"
#include "schema/ledger.capnp.h"

namespace pw::ledger {

Bytes settlement_file(const State& st, bool json) {
  capnp::MallocMessageBuilder mb;
  auto s = mb.initRoot<schema::LedgerSettlement>();
  s.setChainId(as_data(st.chain()));
  s.setEvents(st.next_seq());
  s.setHead(as_data(st.head()));
  s.setSupply(st.supply());
  s.setJackpot(st.jackpot());
  s.setProvenance(provenance_line());
  s.setFormatVersion(current_version(FileKind::Ledger));
  auto accounts = s.initAccounts(unsigned(st.accounts().size()));
  unsigned i = 0;
  for (const auto& [key, a] : st.accounts()) {
    accounts[i].setKey(capnp::Data::Reader(key.data(), key.size()));
    accounts[i].setFree(a.free);
    accounts[i].setLocked(a.locked);
    i++;
  }
  auto tasks = s.initTasks(unsigned(st.tasks().size()));
  i = 0;
  for (const auto& [id, t] : st.tasks()) {
    auto o = tasks[i++];
    o.setId(id);
    o.setTaskHash(as_data(t.task_hash));
    o.setState(t.settled ? "settled" : t.claimed ? "claimed" : "open");
    o.setOutcome(t.outcome);
    o.setForcedError(t.forced);
    o.setSettledAt(t.settled_at);
    auto ps = o.initPayments(unsigned(t.payments.size()));
    for (unsigned j = 0; j < t.payments.size(); j++) {
      const Payment& p = t.payments[j];
      ps[j].setAccount(capnp::Data::Reader(p.account.data(), p.account.size()));
      ps[j].setRole(p.role);
      ps[j].setPaid(p.paid);
      ps[j].setSlashed(p.slashed);
      ps[j].setReason(p.reason);
    }
  }
  return message_bytes<schema::LedgerSettlement>(mb, json);
}

}  // namespace pw::ledger
