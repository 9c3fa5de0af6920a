#pragma once
// Ownership of every libnftnl / libmnl handle the filter layer uses: one
// named deleter per type, declared here once. `*_free(` appears nowhere else
// in the project.
//
// libnftnl transfers ownership when an object is attached to its parent
// (nftnl_rule_add_expr, nftnl_set_elem_add): callers release() the
// unique_ptr at that point, never before.
#include <memory>

#include <libmnl/libmnl.h>
#include <libnftnl/chain.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>
#include <libnftnl/udata.h>

namespace netpolicy::filter {

struct NftnlTableDeleter {
  void operator()(nftnl_table* p) const noexcept { nftnl_table_free(p); }
};
struct NftnlChainDeleter {
  void operator()(nftnl_chain* p) const noexcept { nftnl_chain_free(p); }
};
struct NftnlRuleDeleter {
  void operator()(nftnl_rule* p) const noexcept { nftnl_rule_free(p); }
};
struct NftnlExprDeleter {
  void operator()(nftnl_expr* p) const noexcept { nftnl_expr_free(p); }
};
struct NftnlSetDeleter {
  void operator()(nftnl_set* p) const noexcept { nftnl_set_free(p); }
};
struct NftnlSetElemDeleter {
  void operator()(nftnl_set_elem* p) const noexcept { nftnl_set_elem_free(p); }
};
struct NftnlUdataBufDeleter {
  void operator()(nftnl_udata_buf* p) const noexcept { nftnl_udata_buf_free(p); }
};
struct MnlSocketDeleter {
  void operator()(mnl_socket* p) const noexcept { mnl_socket_close(p); }
};

using NftnlTablePtr = std::unique_ptr<nftnl_table, NftnlTableDeleter>;
using NftnlChainPtr = std::unique_ptr<nftnl_chain, NftnlChainDeleter>;
using NftnlRulePtr = std::unique_ptr<nftnl_rule, NftnlRuleDeleter>;
using NftnlExprPtr = std::unique_ptr<nftnl_expr, NftnlExprDeleter>;
using NftnlSetPtr = std::unique_ptr<nftnl_set, NftnlSetDeleter>;
using NftnlSetElemPtr = std::unique_ptr<nftnl_set_elem, NftnlSetElemDeleter>;
using NftnlUdataBufPtr = std::unique_ptr<nftnl_udata_buf, NftnlUdataBufDeleter>;
using MnlSocketPtr = std::unique_ptr<mnl_socket, MnlSocketDeleter>;

}  // namespace netpolicy::filter
