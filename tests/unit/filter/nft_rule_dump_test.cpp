// filter/nft_rule_dump.cpp: the replies of a GETRULE dump, built here with
// libnftnl as the kernel would send them, parsed into KernelRules: comments
// from userdata, counters, verdicts; other tables and stale replies skipped;
// NLM_F_DUMP_INTR, error replies and garbage reported.
#include "filter/nft_rule_dump.h"

#include <gtest/gtest.h>
#include <libmnl/libmnl.h>
#include <libnftnl/common.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <libnftnl/udata.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>
#include <vector>

#include "filter/nft_handles.h"

namespace netpolicy::filter {
namespace {

constexpr std::uint32_t kSeq = 2;

struct Spec {
  std::string table = "netpolicy";
  std::string chain = "in_lab";
  std::uint64_t handle = 7;
  std::optional<std::string> comment{};
  std::optional<std::pair<std::uint64_t, std::uint64_t>> counter{};  // packets, bytes
  bool log = false;
  std::optional<int> verdict{};  // NF_ACCEPT, NF_DROP, NFT_JUMP...
  std::string jump_to{};
  std::uint32_t seq = kSeq;
  std::uint16_t flags = NLM_F_MULTI;
};

void add_expr(nftnl_rule* r, NftnlExprPtr e) {
  nftnl_rule_add_expr(r, e.release());
}

// Appends one NEWRULE message to `out`, as the kernel sends it in a dump.
void append_rule(std::vector<char>& out, const Spec& s) {
  NftnlRulePtr r{nftnl_rule_alloc()};
  nftnl_rule_set_str(r.get(), NFTNL_RULE_TABLE, s.table.c_str());
  nftnl_rule_set_str(r.get(), NFTNL_RULE_CHAIN, s.chain.c_str());
  nftnl_rule_set_u64(r.get(), NFTNL_RULE_HANDLE, s.handle);
  if (s.comment) {
    NftnlUdataBufPtr buf{nftnl_udata_buf_alloc(NFT_USERDATA_MAXLEN)};
    nftnl_udata_put_strz(buf.get(), NFTNL_UDATA_RULE_COMMENT, s.comment->c_str());
    nftnl_rule_set_data(r.get(), NFTNL_RULE_USERDATA, nftnl_udata_buf_data(buf.get()),
                        nftnl_udata_buf_len(buf.get()));
  }
  if (s.log) {
    NftnlExprPtr e{nftnl_expr_alloc("log")};
    nftnl_expr_set_str(e.get(), NFTNL_EXPR_LOG_PREFIX, "netpolicy: ");
    add_expr(r.get(), std::move(e));
  }
  if (s.counter) {
    NftnlExprPtr e{nftnl_expr_alloc("counter")};
    nftnl_expr_set_u64(e.get(), NFTNL_EXPR_CTR_PACKETS, s.counter->first);
    nftnl_expr_set_u64(e.get(), NFTNL_EXPR_CTR_BYTES, s.counter->second);
    add_expr(r.get(), std::move(e));
  }
  if (s.verdict) {
    NftnlExprPtr e{nftnl_expr_alloc("immediate")};
    nftnl_expr_set_u32(e.get(), NFTNL_EXPR_IMM_DREG, NFT_REG_VERDICT);
    nftnl_expr_set_u32(e.get(), NFTNL_EXPR_IMM_VERDICT, static_cast<std::uint32_t>(*s.verdict));
    if (!s.jump_to.empty()) nftnl_expr_set_str(e.get(), NFTNL_EXPR_IMM_CHAIN, s.jump_to.c_str());
    add_expr(r.get(), std::move(e));
  }
  std::vector<char> buf(8192);
  nlmsghdr* nlh = nftnl_nlmsg_build_hdr(buf.data(), NFT_MSG_NEWRULE, NFPROTO_INET, s.flags, s.seq);
  nftnl_rule_nlmsg_build_payload(nlh, r.get());
  out.insert(out.end(), buf.data(), buf.data() + NLMSG_ALIGN(nlh->nlmsg_len));
}

void append_control(std::vector<char>& out, std::uint16_t type, std::uint16_t flags,
                    std::optional<int> error = std::nullopt, std::uint32_t seq = kSeq) {
  std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE, 0);
  nlmsghdr* nlh = mnl_nlmsg_put_header(buf.data());
  nlh->nlmsg_type = type;
  nlh->nlmsg_flags = flags;
  nlh->nlmsg_seq = seq;
  if (type == NLMSG_DONE) {
    auto* status = static_cast<int*>(mnl_nlmsg_put_extra_header(nlh, sizeof(int)));
    *status = 0;
  } else if (error) {
    auto* err = static_cast<nlmsgerr*>(mnl_nlmsg_put_extra_header(nlh, sizeof(nlmsgerr)));
    err->error = *error;
  }
  out.insert(out.end(), buf.data(), buf.data() + NLMSG_ALIGN(nlh->nlmsg_len));
}

Result<RuleDump::State> feed(RuleDump& dump, const std::vector<char>& bytes) {
  return dump.feed({bytes.data(), bytes.size()});
}

TEST(RuleDump, RulesWithCommentsCountersAndVerdicts) {
  std::vector<char> bytes;
  append_rule(bytes, {.chain = "input", .handle = 3, .counter = {{11, 660}}, .verdict = NF_DROP});
  append_rule(bytes, {.handle = 9,
                      .comment = "ssh",
                      .counter = {{123456789012, 98765432109876}},
                      .verdict = NF_ACCEPT});
  append_rule(bytes, {.handle = 10, .comment = "web", .log = true});
  append_rule(bytes, {.chain = "input", .handle = 4, .verdict = NFT_JUMP, .jump_to = "in_lab"});
  RuleDump dump{"netpolicy", kSeq};
  auto state = feed(dump, bytes);
  ASSERT_TRUE(state) << state.error().describe();
  EXPECT_EQ(*state, RuleDump::State::reading);  // no NLMSG_DONE yet

  std::vector<char> done;
  append_control(done, NLMSG_DONE, NLM_F_MULTI);
  state = feed(dump, done);
  ASSERT_TRUE(state);
  EXPECT_EQ(*state, RuleDump::State::done);

  const auto& rules = dump.rules();
  ASSERT_EQ(rules.size(), 4u);
  EXPECT_EQ(rules[0].chain, "input");
  EXPECT_EQ(rules[0].handle, 3u);
  EXPECT_EQ(rules[0].comment, "");
  EXPECT_TRUE(rules[0].counter);
  EXPECT_EQ(rules[0].packets, 11u);
  EXPECT_EQ(rules[0].bytes, 660u);
  EXPECT_EQ(rules[0].verdict, "drop");

  EXPECT_EQ(rules[1].comment, "ssh");
  EXPECT_EQ(rules[1].packets, 123456789012u);  // 64-bit counters survive
  EXPECT_EQ(rules[1].bytes, 98765432109876u);
  EXPECT_EQ(rules[1].verdict, "accept");

  EXPECT_EQ(rules[2].comment, "web");
  EXPECT_TRUE(rules[2].log);
  EXPECT_FALSE(rules[2].counter);
  EXPECT_EQ(rules[2].verdict, "");

  EXPECT_EQ(rules[3].verdict, "jump in_lab");
}

TEST(RuleDump, OtherTablesAndStaleRepliesAreSkipped) {
  std::vector<char> bytes;
  append_rule(bytes, {.table = "someone_else", .comment = "theirs", .counter = {{1, 1}}});
  append_rule(bytes, {.comment = "stale", .seq = kSeq - 1});
  append_rule(bytes, {.comment = "ours", .counter = {{2, 2}}});
  append_control(bytes, NLMSG_DONE, NLM_F_MULTI, std::nullopt, kSeq - 1);  // an old dump's end
  RuleDump dump{"netpolicy", kSeq};
  auto state = feed(dump, bytes);
  ASSERT_TRUE(state);
  EXPECT_EQ(*state, RuleDump::State::reading);
  ASSERT_EQ(dump.rules().size(), 1u);
  EXPECT_EQ(dump.rules()[0].comment, "ours");
}

TEST(RuleDump, InterruptedDumpIsReported) {
  // The flag may come on any message, NLMSG_DONE included.
  for (bool on_done : {false, true}) {
    std::vector<char> bytes;
    append_rule(bytes, {.comment = "a"});
    if (on_done) {
      append_control(bytes, NLMSG_DONE, NLM_F_MULTI | NLM_F_DUMP_INTR);
    } else {
      append_rule(bytes, {.comment = "b", .flags = NLM_F_MULTI | NLM_F_DUMP_INTR});
      append_control(bytes, NLMSG_DONE, NLM_F_MULTI);
    }
    RuleDump dump{"netpolicy", kSeq};
    auto state = feed(dump, bytes);
    ASSERT_TRUE(state);
    EXPECT_EQ(*state, RuleDump::State::interrupted) << "flag on done: " << on_done;
  }
}

TEST(RuleDump, ErrorReplyAndAck) {
  std::vector<char> enoent;
  append_control(enoent, NLMSG_ERROR, 0, -ENOENT);
  RuleDump dump{"netpolicy", kSeq};
  auto state = feed(dump, enoent);
  ASSERT_FALSE(state);
  EXPECT_EQ(state.error().error_code, ENOENT);
  EXPECT_EQ(state.error().message, "Failed to read the rules of table 'inet netpolicy'");

  std::vector<char> ack;
  append_control(ack, NLMSG_ERROR, 0, 0);
  RuleDump single{"netpolicy", kSeq};
  state = feed(single, ack);
  ASSERT_TRUE(state);
  EXPECT_EQ(*state, RuleDump::State::done);
}

TEST(RuleDump, GarbageIsAnErrorNotACrash) {
  std::vector<char> bytes;
  append_rule(bytes, {.comment = "x", .counter = {{1, 1}}});
  // An expression libnftnl does not know ("counter" renamed) is what
  // makes it refuse a rule.
  const std::string name{"counter"};
  auto at = std::search(bytes.begin(), bytes.end(), name.begin(), name.end());
  ASSERT_NE(at, bytes.end());
  *at = 'k';
  RuleDump dump{"netpolicy", kSeq};
  auto state = feed(dump, bytes);
  ASSERT_FALSE(state);
  EXPECT_EQ(state.error().error_code, EBADMSG);

  // A truncated message is not parsed at all (mnl_nlmsg_ok), never read past.
  std::vector<char> cut;
  append_rule(cut, {.comment = "y"});
  cut.resize(cut.size() / 2);
  RuleDump half{"netpolicy", kSeq};
  state = feed(half, cut);
  ASSERT_TRUE(state);
  EXPECT_TRUE(half.rules().empty());
}

}  // namespace
}  // namespace netpolicy::filter
