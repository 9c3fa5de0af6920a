// filter/nft_element_diff.cpp and filter/nft_element_encode.cpp: the
// element diff of two DesiredStates, and its batch — element messages only.
#include <gtest/gtest.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>

#include <string>
#include <vector>

#include "filter/nft_elements.h"

namespace netpolicy::filter {
namespace {

using Bytes = std::vector<std::uint8_t>;

Interval v4(std::uint8_t a, std::uint8_t b) {
  return Interval{Bytes{10, 0, 0, a}, Bytes{10, 0, 0, b}};
}

DesiredState state(std::vector<Interval> me4, std::vector<MapElement> zone_in) {
  DesiredState s;
  s.table.name = "t";
  s.table.sets.push_back(Set{"g4_x", SetType::ipv4_addr, {v4(100, 100)}});
  s.table.sets.push_back(Set{"me4", SetType::ipv4_addr, std::move(me4)});
  s.table.maps.push_back(VerdictMap{"zone_in", std::move(zone_in)});
  s.table.maps.push_back(VerdictMap{"zone_out", {}});
  Chain c{"in_lan", std::nullopt, {}};
  Rule r;
  r.matches.emplace_back(MatchAddressSet{Family::ipv4, false, "me4"});
  r.verdict.kind = VerdictKind::accept;
  c.rules.push_back(r);
  s.table.chains.push_back(c);
  return s;
}

TEST(ElementDiff, SameStateIsEmpty) {
  auto a = state({v4(1, 1)}, {{"vl0", "in_lan"}});
  auto diff = diff_elements(a, a);
  ASSERT_TRUE(diff);
  EXPECT_TRUE(diff->empty());
  EXPECT_EQ(diff->table, "t");
}

TEST(ElementDiff, InterfaceAddedRemovedRenamed) {
  auto a = state({}, {{"vl0", "in_lan"}, {"vl1", "in_lan"}});
  auto b = state({}, {{"vl1", "in_lan"}, {"vl2", "in_lan"}, {"vw0", "in_wan"}});
  auto diff = diff_elements(a, b);
  ASSERT_TRUE(diff);
  EXPECT_TRUE(diff->set_deletions.empty());
  EXPECT_TRUE(diff->set_additions.empty());
  ASSERT_EQ(diff->map_deletions.size(), 1u);
  EXPECT_EQ(diff->map_deletions[0], (MapElements{"zone_in", {{"vl0", "in_lan"}}}));
  ASSERT_EQ(diff->map_additions.size(), 1u);
  EXPECT_EQ(diff->map_additions[0],
            (MapElements{"zone_in", {{"vl2", "in_lan"}, {"vw0", "in_wan"}}}));
  EXPECT_EQ(interfaces_in(*diff), (std::vector<std::string>{"vl0", "vl2", "vw0"}));
}

TEST(ElementDiff, SameKeyNewVerdictIsDeleteThenAdd) {
  auto diff = diff_elements(state({}, {{"eth0", "in_lan"}}), state({}, {{"eth0", "in_wan"}}));
  ASSERT_TRUE(diff);
  ASSERT_EQ(diff->map_deletions.size(), 1u);
  ASSERT_EQ(diff->map_additions.size(), 1u);
  EXPECT_EQ(diff->map_deletions[0].elements[0].chain, "in_lan");
  EXPECT_EQ(diff->map_additions[0].elements[0].chain, "in_wan");
  EXPECT_EQ(interfaces_in(*diff), (std::vector<std::string>{"eth0"}));
}

TEST(ElementDiff, ReshapedIntervalIsDeletedAndReadded) {
  // 10.0.0.2 went away: the merged 1-2 becomes 1, 5 stays.
  auto diff = diff_elements(state({v4(1, 2), v4(5, 5)}, {}), state({v4(1, 1), v4(5, 5)}, {}));
  ASSERT_TRUE(diff);
  ASSERT_EQ(diff->set_deletions.size(), 1u);
  EXPECT_EQ(diff->set_deletions[0], (SetElements{"me4", SetType::ipv4_addr, {v4(1, 2)}}));
  ASSERT_EQ(diff->set_additions.size(), 1u);
  EXPECT_EQ(diff->set_additions[0], (SetElements{"me4", SetType::ipv4_addr, {v4(1, 1)}}));
  EXPECT_TRUE(interfaces_in(*diff).empty());
}

TEST(ElementDiff, AnythingButElementsIsNotAnElementDiff) {
  const auto a = state({}, {});
  auto b = a;
  b.table.chains[0].rules[0].verdict.kind = VerdictKind::drop;
  EXPECT_FALSE(diff_elements(a, b)) << "a rule changed";
  b = a;
  b.table.sets.push_back(Set{"me6", SetType::ipv6_addr, {}});
  EXPECT_FALSE(diff_elements(a, b)) << "a set was added";
  b = a;
  b.table.sets[1].type = SetType::inet_service;
  EXPECT_FALSE(diff_elements(a, b)) << "a set changed type";
  b = a;
  b.table.maps[1].name = "zone_fwd";
  EXPECT_FALSE(diff_elements(a, b)) << "a map was renamed";
  b = a;
  b.table.name = "u";
  EXPECT_FALSE(diff_elements(a, b)) << "another table";
}

// The (type, flags) of each message of a batch.
struct Message {
  std::uint16_t type;
  std::uint16_t flags;
};
std::vector<Message> messages(const EncodedBatch& batch) {
  std::vector<Message> out;
  int len = static_cast<int>(batch.bytes.size());
  for (auto* nlh = reinterpret_cast<const nlmsghdr*>(batch.bytes.data()); mnl_nlmsg_ok(nlh, len);
       nlh = mnl_nlmsg_next(nlh, &len))
    out.push_back({nlh->nlmsg_type, nlh->nlmsg_flags});
  EXPECT_EQ(len, 0) << "trailing bytes in the batch";
  return out;
}

constexpr std::uint16_t nft(int msg) {
  return static_cast<std::uint16_t>((NFNL_SUBSYS_NFTABLES << 8) | msg);
}

TEST(ElementUpdateBatch, OnlyElementMessagesDeletionsFirstAckOnLast) {
  auto diff = diff_elements(state({v4(1, 2)}, {{"vl0", "in_lan"}}),
                            state({v4(1, 1)}, {{"vl1", "in_lan"}}));
  ASSERT_TRUE(diff);
  auto batch = encode_element_update(*diff, 40);
  ASSERT_TRUE(batch.ok()) << batch.error().describe();
  auto m = messages(*batch);
  ASSERT_EQ(m.size(), 6u);
  EXPECT_EQ(m[0].type, NFNL_MSG_BATCH_BEGIN);
  EXPECT_EQ(m[1].type, nft(NFT_MSG_DELSETELEM));  // me4: 1-2
  EXPECT_EQ(m[2].type, nft(NFT_MSG_DELSETELEM));  // zone_in: vl0
  EXPECT_EQ(m[3].type, nft(NFT_MSG_NEWSETELEM));  // me4: 1
  EXPECT_EQ(m[4].type, nft(NFT_MSG_NEWSETELEM));  // zone_in: vl1
  EXPECT_EQ(m[5].type, NFNL_MSG_BATCH_END);
  for (std::size_t i = 0; i < m.size(); ++i)
    EXPECT_EQ((m[i].flags & NLM_F_ACK) != 0, i == 4) << "message " << i;
  EXPECT_EQ(batch->first_seq, 40u);
  EXPECT_EQ(batch->ack_seq, 44u);
  EXPECT_EQ(batch->message_count(), 6u);
  ASSERT_NE(batch->object_for(42), nullptr);
  EXPECT_EQ(batch->object_for(42)->object, "elements of map 'zone_in'");
  EXPECT_EQ(batch->object_for(43)->object, "elements of set 'me4'");
}

TEST(ElementUpdateBatch, EmptyDiffAndBadElementsAreRefused) {
  ElementDiff empty;
  empty.table = "t";
  EXPECT_FALSE(encode_element_update(empty, 1).ok());
  ElementDiff bad = empty;
  bad.map_additions.push_back({"zone_in", {{"a-name-longer-than-15", "in_lan"}}});
  auto r = encode_element_update(bad, 1);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().error_code, EINVAL);
  EXPECT_NE(r.error().object.find("a-name-longer-than-15"), std::string::npos);
}

}  // namespace
}  // namespace netpolicy::filter
