// vtpmd.conf and libvirt's state path (site_config.h).
#include "instance/site_config.h"

#include <gtest/gtest.h>

namespace vtpm::instance {
namespace {

TEST(SiteConfig, ManagerLineCommentsAndBlanks) {
  SiteConfig s;
  std::string err;
  ASSERT_TRUE(parse_site_config("# vtpm\n\n  manager =  /run/vtpm/manager.sock  \n", "vtpmd.conf", s, err)) << err;
  EXPECT_EQ(s.manager, "/run/vtpm/manager.sock");
  ASSERT_TRUE(parse_site_config("", "vtpmd.conf", s, err));
  EXPECT_EQ(s.manager, "");
}

TEST(SiteConfig, RefusesWhatItDoesNotKnow) {
  SiteConfig s;
  std::string err;
  EXPECT_FALSE(parse_site_config("manager /m\n", "c", s, err));
  EXPECT_EQ(err, "c:1: expected 'name = value', found 'manager /m'");
  EXPECT_FALSE(parse_site_config("\nkey = x\n", "c", s, err));
  EXPECT_EQ(err, "c:2: unknown setting 'key' (known: manager)");
  EXPECT_FALSE(parse_site_config("manager = /a\nmanager = /b\n", "c", s, err));
  EXPECT_EQ(err, "c:2: manager is set twice");
  EXPECT_EQ(s.manager, "");  // a refused file names no manager, not even its first line's
  EXPECT_FALSE(parse_site_config("manager = run/m\n", "c", s, err));
  EXPECT_EQ(err, "c:1: manager needs the absolute path of the manager's socket");
}

TEST(SiteConfig, UuidFromLibvirtsPath) {
  EXPECT_EQ(uuid_from_libvirt_path("/var/lib/libvirt/swtpm/6B29FC40-CA47-1067-B31D-00DD010662DA/tpm2"),
            "6b29fc40-ca47-1067-b31d-00dd010662da");
  EXPECT_EQ(uuid_from_libvirt_path("/var/lib/libvirt/swtpm/6b29fc40-ca47-1067-b31d-00dd010662da/tpm1.2/"),
            "6b29fc40-ca47-1067-b31d-00dd010662da");
  EXPECT_EQ(uuid_from_libvirt_path("/var/lib/libvirt/swtpm/6b29fc40-ca47-1067-b31d-00dd010662da"), "");
  EXPECT_EQ(uuid_from_libvirt_path("/tmp/6b29fc40-ca47-1067-b31d-00dd010662da/tpm2"), "");
  EXPECT_EQ(uuid_from_libvirt_path("/var/lib/libvirt/swtpm/not-a-uuid/tpm2"), "");
  EXPECT_EQ(uuid_from_libvirt_path("tpm2"), "");
}

TEST(SiteConfig, AppliesOnlyWithoutKey) {
  SiteConfig site;
  site.manager = "/run/vtpm/manager.sock";
  Config cfg;
  cfg.state_dir = "/var/lib/libvirt/swtpm/6b29fc40-ca47-1067-b31d-00dd010662da/tpm2";
  std::string err;
  ASSERT_TRUE(apply_site_config(site, "vtpmd.conf", cfg, err)) << err;
  EXPECT_EQ(cfg.key.source, KeySource::Manager);
  EXPECT_EQ(cfg.key.path, "/run/vtpm/manager.sock");
  EXPECT_EQ(cfg.key.uuid, "6b29fc40-ca47-1067-b31d-00dd010662da");
  EXPECT_EQ(cfg.instance_id, "6b29fc40-ca47-1067-b31d-00dd010662da");

  Config given;  // libvirt's own --key wins
  given.state_dir = cfg.state_dir;
  given.key.source = KeySource::PwdFd;
  ASSERT_TRUE(apply_site_config(site, "vtpmd.conf", given, err));
  EXPECT_EQ(given.key.source, KeySource::PwdFd);

  Config elsewhere;
  elsewhere.state_dir = "/tmp/x";
  EXPECT_FALSE(apply_site_config(site, "vtpmd.conf", elsewhere, err));
  EXPECT_EQ(err, "vtpmd.conf names the manager /run/vtpm/manager.sock, but the state path '/tmp/x' is not "
                 "libvirt's …/swtpm/<uuid>/tpm2, so the instance has no UUID: give --key "
                 "manager=/run/vtpm/manager.sock,uuid=UUID");
  EXPECT_EQ(elsewhere.key.source, KeySource::None);
}

}  // namespace
}  // namespace vtpm::instance
