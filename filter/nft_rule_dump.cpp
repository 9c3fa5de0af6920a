#include "filter/nft_rule_dump.h"

#include <libmnl/libmnl.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <libnftnl/udata.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>

#include <cerrno>
#include <cstring>
#include <new>

#include "filter/nft_handles.h"

namespace netpolicy::filter {
namespace {

constexpr std::uint16_t nft_type(int message) {
  return static_cast<std::uint16_t>((NFNL_SUBSYS_NFTABLES << 8) | message);
}

std::string verdict_text(std::int32_t code, const char* chain) {
  const std::string target = chain != nullptr ? chain : "";
  switch (code) {
    case NF_ACCEPT:
      return "accept";
    case NF_DROP:
      return "drop";
    case NFT_JUMP:
      return "jump " + target;
    case NFT_GOTO:
      return "goto " + target;
    case NFT_RETURN:
      return "return";
    case NFT_CONTINUE:
      return "continue";
    case NFT_BREAK:
      return "break";
    default:
      return "verdict " + std::to_string(code);
  }
}

int visit_expression(nftnl_expr* e, void* data) {
  auto* rule = static_cast<KernelRule*>(data);
  const char* name = nftnl_expr_get_str(e, NFTNL_EXPR_NAME);
  const std::string_view kind = name != nullptr ? name : "";
  if (kind == "counter") {
    rule->counter = true;
    rule->packets += nftnl_expr_get_u64(e, NFTNL_EXPR_CTR_PACKETS);
    rule->bytes += nftnl_expr_get_u64(e, NFTNL_EXPR_CTR_BYTES);
  } else if (kind == "log") {
    rule->log = true;
  } else if (kind == "immediate" && nftnl_expr_is_set(e, NFTNL_EXPR_IMM_VERDICT)) {
    const auto code = static_cast<std::int32_t>(nftnl_expr_get_u32(e, NFTNL_EXPR_IMM_VERDICT));
    const char* chain = nftnl_expr_is_set(e, NFTNL_EXPR_IMM_CHAIN)
                            ? nftnl_expr_get_str(e, NFTNL_EXPR_IMM_CHAIN)
                            : nullptr;
    rule->verdict = verdict_text(code, chain);
  } else if (kind == "lookup" && nftnl_expr_is_set(e, NFTNL_EXPR_LOOKUP_DREG) &&
             nftnl_expr_get_u32(e, NFTNL_EXPR_LOOKUP_DREG) == NFT_REG_VERDICT) {
    const char* set = nftnl_expr_get_str(e, NFTNL_EXPR_LOOKUP_SET);
    rule->verdict = std::string{"vmap @"} + (set != nullptr ? set : "");
  }
  return MNL_CB_OK;
}

int visit_udata(const nftnl_udata* attr, void* data) {
  if (nftnl_udata_type(attr) != NFTNL_UDATA_RULE_COMMENT) return MNL_CB_OK;
  const auto* text = static_cast<const char*>(nftnl_udata_get(attr));
  const std::size_t len = nftnl_udata_len(attr);
  // nft stores the comment with its NUL; take no byte beyond the attribute.
  *static_cast<std::string*>(data) = std::string{text, strnlen(text, len)};
  return MNL_CB_OK;
}

Error bad_message(const std::string& what) {
  return errno_error("Failed to parse " + what + " of the nftables rule dump", EBADMSG);
}

// The rule, and in `table` the name of the table it belongs to.
Result<KernelRule> parse_rule(const nlmsghdr* nlh, std::string& table) {
  NftnlRulePtr r{nftnl_rule_alloc()};
  if (!r) throw std::bad_alloc();
  if (nftnl_rule_nlmsg_parse(nlh, r.get()) < 0) return bad_message("a rule");

  KernelRule rule;
  const char* name = nftnl_rule_get_str(r.get(), NFTNL_RULE_TABLE);
  table = name != nullptr ? name : "";
  if (const char* chain = nftnl_rule_get_str(r.get(), NFTNL_RULE_CHAIN)) rule.chain = chain;
  if (nftnl_rule_is_set(r.get(), NFTNL_RULE_HANDLE))
    rule.handle = nftnl_rule_get_u64(r.get(), NFTNL_RULE_HANDLE);
  std::uint32_t len = 0;
  if (const void* udata = nftnl_rule_get_data(r.get(), NFTNL_RULE_USERDATA, &len);
      udata != nullptr && len > 0) {
    if (nftnl_udata_parse(udata, len, &visit_udata, &rule.comment) < 0)
      return bad_message("the userdata of a rule in chain '" + rule.chain + "'");
  }
  if (nftnl_expr_foreach(r.get(), &visit_expression, &rule) < 0)
    return bad_message("the expressions of a rule in chain '" + rule.chain + "'");
  return rule;
}

}  // namespace

Result<KernelRule> parse_rule_message(const void* message) {
  std::string table;
  return parse_rule(static_cast<const nlmsghdr*>(message), table);
}

Result<RuleDump::State> RuleDump::feed(std::span<const char> bytes) {
  int len = static_cast<int>(bytes.size());
  for (const auto* nlh = reinterpret_cast<const nlmsghdr*>(bytes.data()); mnl_nlmsg_ok(nlh, len);
       nlh = mnl_nlmsg_next(nlh, &len)) {
    if (nlh->nlmsg_seq != seq_) continue;  // not ours: a reply to an earlier request
    // The kernel flags every message it sends after the ruleset's
    // generation changed, NLMSG_DONE included (nl_dump_check_consistent).
    if ((nlh->nlmsg_flags & NLM_F_DUMP_INTR) != 0) return State::interrupted;
    switch (nlh->nlmsg_type) {
      case NLMSG_DONE:
        return State::done;
      case NLMSG_ERROR: {
        if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(nlmsgerr))) return bad_message("an error reply");
        const auto* err = static_cast<const nlmsgerr*>(mnl_nlmsg_get_payload(nlh));
        if (err->error == 0) return State::done;  // the ACK of a single request
        return errno_error("Failed to read the rules of table 'inet " + table_ + "'", -err->error,
                           "table 'inet " + table_ + "'");
      }
      case nft_type(NFT_MSG_NEWRULE): {
        if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(nfgenmsg))) return bad_message("a rule");
        const auto* nfg = static_cast<const nfgenmsg*>(mnl_nlmsg_get_payload(nlh));
        if (nfg->nfgen_family != NFPROTO_INET) continue;
        std::string table;
        auto rule = parse_rule(nlh, table);
        if (!rule) return rule.error();
        // The kernel filters the dump by table; a rule of another table is
        // not ours all the same.
        if (table != table_) continue;
        rules_.push_back(std::move(rule).value());
        break;
      }
      default:
        break;  // NEWTABLE (the answer to GETTABLE), NOOP: nothing to keep
    }
  }
  return State::reading;
}

}  // namespace netpolicy::filter
