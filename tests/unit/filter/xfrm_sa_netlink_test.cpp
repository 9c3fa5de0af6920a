// filter/xfrm_sa_netlink.cpp and xfrm_sa_text.cpp: an SA written as an
// XFRM_MSG_NEWSA message reads back as the same SA (the dump replies have
// that layout), a delete carries no key, and texts never show keys.
#include "filter/xfrm_sa_netlink.h"

#include <gtest/gtest.h>
#include <arpa/inet.h>
#include <linux/xfrm.h>

#include <array>
#include <string>

#include "filter/xfrm_sa_text.h"
#include "filter/xfrm_socket.h"

namespace netpolicy::filter {
namespace {

IpPrefix host(const char* text) {
  return *parse_ip_prefix(text);
}

XfrmSa gcm_sa() {
  XfrmSa sa;
  sa.src = host("10.200.0.1");
  sa.dst = host("10.200.0.2");
  sa.spi = 0x1001;
  sa.reqid = 100;
  std::array<std::uint8_t, 20> k{};
  for (std::size_t i = 0; i < k.size(); ++i) k[i] = static_cast<std::uint8_t>(0xa0 + i);
  sa.key = XfrmKey{k};
  sa.profile = "db";
  return sa;
}

XfrmSa cbc_sa() {
  XfrmSa sa;
  sa.src = host("fd00:200::2");
  sa.dst = host("fd00:200::1");
  sa.spi = 0xfffffff0;
  sa.reqid = 7;
  sa.tunnel = true;
  sa.algorithm = XfrmSaAlgorithm::aes_cbc_hmac_sha256;
  std::array<std::uint8_t, 32> k{}, a{};
  for (std::size_t i = 0; i < k.size(); ++i) {
    k[i] = static_cast<std::uint8_t>(i + 1);
    a[i] = static_cast<std::uint8_t>(0xff - i);
  }
  sa.key = XfrmKey{k};
  sa.auth_key = XfrmKey{a};
  return sa;
}

bool contains(const char* buf, std::size_t len, const XfrmKey& key) {
  const std::string hay{buf, len};
  const std::string needle{reinterpret_cast<const char*>(key.data()), key.size()};
  return hay.find(needle) != std::string::npos;
}

TEST(XfrmSaNetlink, AddMessageParsesBackToTheSameSa) {
  for (const XfrmSa& sa : {gcm_sa(), cbc_sa()}) {
    std::array<char, kXfrmMessageMax> buf{};
    const std::size_t len = put_sa_add(buf.data(), sa, 5, true);
    ASSERT_LE(len, buf.size());
    const auto* nlh = reinterpret_cast<const nlmsghdr*>(buf.data());
    EXPECT_EQ(nlh->nlmsg_type, XFRM_MSG_NEWSA);
    EXPECT_EQ(nlh->nlmsg_len, len);
    EXPECT_NE(nlh->nlmsg_flags & NLM_F_EXCL, 0) << "an existing SA must never be replaced";
    EXPECT_TRUE(contains(buf.data(), len, sa.key));
    auto back = parse_sa(nlh);
    ASSERT_TRUE(back);
    EXPECT_TRUE(back->same_in_kernel(sa)) << describe_xfrm_sa(*back);
    EXPECT_EQ(back->id(), sa.id());
  }
}

TEST(XfrmSaNetlink, AnotherAlgorithmNeverEqualsOurs) {
  XfrmSa sa = gcm_sa();
  std::array<char, kXfrmMessageMax> buf{};
  const std::size_t len = put_sa_add(buf.data(), sa, 1, false);
  // Rename the AEAD to one we never write: it must read back keyless.
  const std::string text{buf.data(), len};
  const auto at = text.find("rfc4106(gcm(aes))");
  ASSERT_NE(at, std::string::npos);
  buf[at] = 'x';
  auto back = parse_sa(reinterpret_cast<const nlmsghdr*>(buf.data()));
  ASSERT_TRUE(back);
  EXPECT_TRUE(back->key.empty());
  EXPECT_FALSE(back->same_in_kernel(sa));
}

TEST(XfrmSaNetlink, DeleteNamesTheSaWithoutItsKey) {
  const XfrmSa sa = cbc_sa();
  std::array<char, kXfrmMessageMax> buf{};
  const std::size_t len = put_sa_delete(buf.data(), sa.id(), 9, true);
  const auto* nlh = reinterpret_cast<const nlmsghdr*>(buf.data());
  EXPECT_EQ(nlh->nlmsg_type, XFRM_MSG_DELSA);
  EXPECT_FALSE(contains(buf.data(), len, sa.key));
  const auto* id = reinterpret_cast<const xfrm_usersa_id*>(buf.data() + NLMSG_HDRLEN);
  EXPECT_EQ(ntohl(id->spi), 0xfffffff0u);
  EXPECT_EQ(id->proto, 50);
  EXPECT_EQ(id->family, AF_INET6);
}

TEST(XfrmSaText, RedactsKeysAndDescribesOnOneLine) {
  const XfrmSa sa = gcm_sa();
  const std::string text = render_xfrm_sas({sa});
  EXPECT_EQ(text,
            "# profile db, out\n"
            "src 10.200.0.1 dst 10.200.0.2\n"
            "\tproto esp spi 0x00001001 reqid 100 mode transport\n"
            "\treplay-window 0 \n"
            "\taead rfc4106(gcm(aes)) <redacted> 128\n"
            "\tsel src 0.0.0.0/0 dst 0.0.0.0/0 \n");
  EXPECT_EQ(describe_xfrm_sa(sa), "src 10.200.0.1 dst 10.200.0.2 proto esp spi 0x00001001");
  EXPECT_EQ(text.find("a0a1a2"), std::string::npos);
}

}  // namespace
}  // namespace netpolicy::filter
