/* catalog.c: process names, product facts and kernel strings for realistic reports */
#include <stdio.h>
#include <string.h>

#include "gen.h"

#define D(n, kb, v)                                                                                \
	{                                                                                          \
		n, GEN_KIND_DAEMON, kb, v                                                          \
	}
#define A(n, kb, v)                                                                                \
	{                                                                                          \
		n, GEN_KIND_APP, kb, v                                                             \
	}
#define X(n, kb, v)                                                                                \
	{                                                                                          \
		n, GEN_KIND_EXTENSION, kb, v                                                       \
	}

/* system processes first (always present), then daemons, apps and extensions */
static const struct gen_catalog_entry catalog[] = {
	D("launchd", 6000, 0),
	D("SpringBoard", 150000, 0),
	D("backboardd", 60000, 0),
	D("mediaserverd", 30000, 0),
	D("CommCenter", 16000, 0),
	D("notifyd", 4500, 0),
	D("configd", 4000, 0),
	D("locationd", 20000, 0),
	D("wifid", 9000, 0),
	D("bluetoothd", 9000, 0),
	D("runningboardd", 14000, 13),
	D("UserEventAgent", 5000, 0),
	D("lockdownd", 3000, 0),
	D("syslogd", 2000, 0),
	D("logd", 9000, 10),
	D("powerd", 2500, 0),
	D("fseventsd", 3000, 0),
	D("mDNSResponder", 4000, 0),
	D("identityservicesd", 14000, 0),
	D("apsd", 6000, 0),
	D("itunesstored", 16000, 0),
	D("cloudd", 14000, 0),
	D("nsurlsessiond", 8000, 0),
	D("assetsd", 18000, 0),
	D("dasd", 9000, 0),
	D("symptomsd", 9000, 0),
	D("sharingd", 12000, 0),
	D("searchd", 9000, 0),
	D("accountsd", 9000, 0),
	D("trustd", 5000, 0),
	D("securityd", 5000, 0),
	D("keybagd", 2000, 0),
	D("filecoordinationd", 4000, 0),
	D("aggregated", 9000, 0),
	D("wifianalyticsd", 6000, 13),
	D("osanalyticshelper", 2500, 0),
	D("ReportCrash", 3500, 0),
	D("OTACrashCopier", 2000, 0),
	D("CloudKeychainProxy", 3000, 0),
	D("watchdogd", 2600, 0),
	D("thermalmonitord", 3000, 0),
	D("MobileGestaltHelper", 2000, 0),
	D("mobileassetd", 9000, 0),
	D("softwareupdated", 3000, 0),
	D("mobileactivationd", 4000, 0),
	D("misagent", 2200, 0),
	D("installd", 6000, 0),
	D("containermanagerd", 3500, 10),
	D("pasted", 3000, 10),
	D("peakpowermanagerd", 1600, 13),
	D("heard", 7000, 0),
	D("wcd", 7000, 0),
	D("rocketd", 2000, 0),
	D("coresymbolicationd", 2500, 0),
	D("lsd", 4000, 0),
	D("fairplayd.H2", 3000, 0),
	D("geod", 9000, 0),
	D("routined", 9000, 0),
	D("suggestd", 14000, 0),
	D("nanoregistryd", 6000, 0),
	D("passd", 9000, 0),
	D("vmd", 3000, 0),
	D("biometrickitd", 3000, 0),
	D("timed", 2000, 0),
	D("tccd", 3000, 0),
	D("sysdiagnose", 2500, 0),
	D("diagnosticd", 2500, 0),
	D("lockbot", 2500, 0),
	D("uaunbox", 2000, 0),
	D("dropbear", 1600, 0),
	D("BlueTool", 3000, 0),
	D("EnforcementService", 1400, 13),
	D("MTLCompilerService", 4500, 0),
	D("SBRendererService", 3600, 12),
	D("xpcproxy", 1000, 0),
	D("deleted", 2200, 0),
	D("cfprefsd", 2500, 0),
	D("distnoted", 1800, 0),
	D("mediaremoted", 5000, 0),
	D("callservicesd", 9000, 0),
	D("imagent", 9000, 0),
	D("IMDPersistenceAgent", 7000, 0),
	D("calaccessd", 6000, 0),
	D("dataaccessd", 12000, 0),
	D("mediaplaybackd", 8000, 15),
	D("audioanalyticsd", 3000, 15),
	D("avconferenced", 7000, 0),
	D("atc", 4500, 0),
	D("familycircled", 4000, 0),
	D("homed", 12000, 0),
	D("healthd", 14000, 0),
	D("nfcd", 3000, 0),
	D("seld", 2000, 0),
	D("coreduetd", 9000, 0),
	D("contextstored", 7000, 12),
	D("knowledge-agent", 6000, 11),
	D("duetexpertd", 12000, 12),
	D("triald", 7000, 14),
	D("biomed", 6000, 15),
	D("siriknowledged", 5000, 14),
	D("assistantd", 12000, 0),
	D("corespeechd", 7000, 0),
	D("mediaanalysisd", 14000, 11),
	D("photoanalysisd", 25000, 10),
	D("mobileslideshow", 9000, 0),
	D("cloudphotod", 9000, 11),
	D("bird", 7000, 0),
	D("fileproviderd", 9000, 11),
	D("appstored", 9000, 12),
	D("installcoordinationd", 4000, 12),
	D("amsaccountsd", 5000, 13),
	D("amsengagementd", 5000, 13),
	D("storekitd", 5000, 14),
	D("gamed", 6000, 0),
	D("adid", 3000, 0),
	D("askpermissiond", 3000, 13),
	D("screentimeagent", 4000, 12),
	D("remindd", 7000, 13),
	D("calendarwidgetd", 3500, 14),
	D("chronod", 9000, 14),
	D("backupd", 4000, 0),
	D("mobile_storage_proxy", 1500, 0),
	D("afcd", 1800, 0),
	D("CacheDeleteAppContainerCaches", 2000, 11),
	D("deleted_helper", 1800, 13),
	D("com.apple.Safari.SafeBrowsing.Service", 3500, 11),
	D("com.apple.WebKit.Networking", 9000, 0),
	D("com.apple.WebKit.GPU", 9000, 14),
	D("com.apple.StreamingUnzipService", 2000, 12),
	D("com.apple.accessibility.AccessibilityUIServer", 5000, 0),
	D("com.apple.MobileSoftwareUpdate.UpdateBrainService", 4000, 0),
	D("com.apple.CloudPhotosConfiguration", 2000, 13),
	D("com.apple.geod", 3000, 0),
	D("CategoriesService", 3000, 14),
	D("ThreeBarsXPCService", 1800, 12),
	D("AppSSODaemon", 2500, 13),
	D("nearbyd", 5000, 14),
	D("rapportd", 5000, 11),
	D("mediaserverd_helper", 1500, 0),
	D("kbd", 5000, 0),
	D("TextInputUIService", 6000, 15),
	D("UIKitSystemApp", 4000, 14),
	D("PerfPowerServices", 7000, 14),
	D("powerlogHelperd", 3000, 11),
	D("proactiveeventtrackerd", 3000, 14),
	D("replicatord", 3000, 15),
	D("sensorkitd", 3000, 14),
	D("spaceattributiond", 2500, 15),
	D("swcd", 3000, 0),
	D("tipsd", 4000, 13),
	D("transparencyd", 4000, 14),
	D("usermanagerd", 2500, 12),
	D("voicemail", 3000, 0),
	D("wifip2pd", 2500, 14),
	D("lskdd", 1500, 14),
	D("mobiletimerd", 3000, 12),
	D("navd", 4000, 0),
	D("parsecd", 6000, 10),
	D("ProtectedCloudKeySyncing", 3000, 14),
	D("ScreenTimeAgent", 4000, 12),
	D("SafariBookmarksSyncAgent", 4000, 0),
	D("sharedwebcredentialsd", 2500, 0),
	D("signpost_reporter", 2500, 13),
	D("siriactionsd", 5000, 14),
	D("smartcard", 1500, 14),
	D("StatusKitAgent", 3000, 14),
	D("studentd", 3000, 12),
	D("suggestionsd", 6000, 14),
	D("syncdefaultsd", 3000, 0),
	D("TrustedPeersHelper", 5000, 13),
	D("webbookmarksd", 4000, 0),
	D("webinspectord", 2500, 0),
	D("weatherd", 4000, 14),
	D("WirelessRadioManagerd", 3000, 0),
	D("wirelessproxd", 2500, 0),
	D("mobileassetd_helper", 2000, 14),
	D("nesessionmanager", 3000, 0),
	D("neagent", 3000, 0),
	D("networkserviceproxy", 4000, 11),
	D("mediaparserd", 3000, 15),
	D("mediasetupd", 3000, 14),
	D("MTLAssetUpgraderD", 2000, 14),
	D("naturallanguaged", 6000, 15),
	D("intelligenceplatformd", 9000, 17),
	D("generativeexperiencesd", 9000, 18),
	D("backgroundassets.user", 2000, 16),
	D("modelmanagerd", 5000, 18),
	D("liveactivitiesd", 3000, 16),
	D("ctkd", 2000, 0),
	D("followupd", 3000, 0),
	D("findmydeviced", 6000, 0),
	D("searchpartyd", 6000, 13),
	D("locationpushd", 2000, 14),
	D("pipelined", 3000, 13),
	D("ospredictiond", 4000, 16),
	D("contactsdonationagent", 4000, 13),
	D("adprivacyd", 4000, 14),
	D("feedbackd", 3000, 13),
	D("nanotimekitcompaniond", 4000, 0),
	D("Spotlight", 5000, 0),
	D("com.apple.quicklook.ThumbnailsAgent", 5000, 11),
	D("com.apple.DocumentManagerCore.Downloads", 3000, 13),
	D("com.apple.MediaPlayer.RemotePlayerService", 3000, 0),
	D("com.apple.DictionaryServiceHelper", 2500, 0),
	D("mobilestoragemounter", 1500, 0),
	D("pkd", 3000, 0),
	D("IDSRemoteURLConnectionAgent", 2500, 0),
	D("CloudKeychainProxy_helper", 1500, 15),
	D("ptpcamerad", 2500, 0),
	D("ptpd", 2500, 0),
	D("sociallayerd", 4000, 16),
	D("bookassetd", 5000, 12),
	D("bookdatastored", 5000, 12),
	D("coreidvd", 3000, 15),
	D("healthappd", 5000, 15),
	D("mlruntimed", 4000, 15),
	D("mobilerepaird", 2000, 15),
	D("osanalyticsd", 2500, 17),
	D("runningboardd_helper", 1500, 17),
	D("shazamd", 3000, 15),
	D("SiriTTSService", 6000, 14),
	D("SpringBoardUIServices", 3000, 0),
	D("ThermalMonitorHelper", 1500, 16),

	A("MobileSafari", 90000, 0),
	A("MobileMail", 60000, 0),
	A("MobileSMS", 50000, 0),
	A("Camera", 60000, 0),
	A("Photos", 70000, 0),
	A("Preferences", 45000, 0),
	A("Music", 50000, 0),
	A("Maps", 70000, 0),
	A("MobileCal", 35000, 0),
	A("MobileNotes", 40000, 0),
	A("MobilePhone", 40000, 0),
	A("AppStore", 60000, 0),
	A("Podcasts", 40000, 0),
	A("Health", 40000, 0),
	A("Weather", 30000, 0),
	A("WeChat", 180000, 0),
	A("Facebook", 170000, 0),
	A("Instagram", 150000, 0),
	A("WhatsApp", 90000, 0),
	A("YouTube", 120000, 0),
	A("Spotify", 90000, 0),
	A("Telegram", 80000, 0),
	A("Slack", 100000, 0),
	A("Runner", 120000, 0),
	A("Netflix", 110000, 0),
	A("TikTok", 160000, 0),
	A("Uber", 90000, 0),
	A("Twitter", 90000, 0),
	A("Gmail", 80000, 0),
	A("Outlook", 90000, 0),

	X("com.apple.WebKit.WebContent", 60000, 0),
	X("com.apple.WebKit.WebContent", 40000, 0),
	X("com.apple.WebKit.WebContent", 30000, 0),
	X("NotificationServiceExtension", 5000, 10),
	X("TVWidgetExtension", 7000, 14),
	X("GMSWidgetExtension", 9000, 14),
	X("PodcastsWidget", 7000, 14),
	X("RemindersWidgetExtension", 8000, 14),
	X("WorldClockWidget", 7000, 14),
	X("FitnessWidget", 12000, 14),
	X("WeatherWidget", 9000, 14),
	X("PhotosWidget", 12000, 14),
	X("BatteryWidget", 6000, 14),
	X("LockScreenPeopleWidget_iOSExtension", 4000, 16),
	X("HealthMentalHealthWidgetExtension", 5000, 17),
	X("MessagesNotificationExtension", 5000, 12),
	X("CallDirectoryExtension", 3000, 10),
	X("ShareExtension", 9000, 0),
	X("KeyboardExtension", 6000, 0),
	X("PacketTunnel", 6000, 0),
	X("IntentsExtension", 5000, 12),
};

static const char *const multi[] = {
	"MTLCompilerService",
	"xpcproxy",
	"com.apple.WebKit.WebContent",
	"ReportCrash",
	"com.apple.WebKit.Networking",
	"MTLCompilerService",
	"CategoriesService",
	"ThreeBarsXPCService",
	"com.apple.quicklook.ThumbnailsAgent",
	"NotificationServiceExtension",
};

static const char *const apps[] = {
	"WeChat",    "Facebook", "Instagram",	   "YouTube",	 "Spotify",	 "Runner",
	"TikTok",    "Netflix",	 "Slack",	   "Uber",	 "MemoryTest",	 "GameApp",
	"MyCoolApp", "Telegram", "PhotoEditorPro", "LabTestApp", "MobileSafari", "Maps",
};

static const char *const extensions[] = {
	"com.example.Widget",
	"ShareExtension",
	"NotificationServiceExtension",
	"PacketTunnel",
	"KeyboardExtension",
	"PhotosWidget",
	"MessageFilterExtension",
	"com.example.app.IntentsExtension",
};

const struct gen_catalog_entry *gen_catalog(size_t *n)
{
	*n = sizeof(catalog) / sizeof(catalog[0]);
	return catalog;
}

const char *const *gen_multi_instance_names(size_t *n)
{
	*n = sizeof(multi) / sizeof(multi[0]);
	return multi;
}

const char *const *gen_app_names(size_t *n)
{
	*n = sizeof(apps) / sizeof(apps[0]);
	return apps;
}

const char *const *gen_extension_names(size_t *n)
{
	*n = sizeof(extensions) / sizeof(extensions[0]);
	return extensions;
}

/* "iPhone13,2" -> family "iPhone", major 13, minor 2; 0 or -1 */
static int split_product(const char *product, char *family, size_t fsize, int *major, int *minor)
{
	size_t i = 0;

	while (product[i] && (product[i] < '0' || product[i] > '9'))
		i++;
	if (i == 0 || i >= fsize || !product[i])
		return -1;
	memcpy(family, product, i);
	family[i] = '\0';
	if (sscanf(product + i, "%d,%d", major, minor) != 2)
		return -1;
	return 0;
}

bool gen_product_is_32bit(const char *product)
{
	char fam[32];
	int ma, mi;

	if (split_product(product, fam, sizeof(fam), &ma, &mi) < 0)
		return false;
	if (!strcmp(fam, "iPhone"))
		return ma <= 5;
	if (!strcmp(fam, "iPad"))
		return ma <= 3;
	if (!strcmp(fam, "iPod"))
		return ma <= 5;
	return false;
}

int gen_product_default_page_size(const char *product)
{
	char fam[32];
	int ma, mi;

	if (split_product(product, fam, sizeof(fam), &ma, &mi) < 0)
		return 16384;
	/* A8 and older report 4 KiB pages (jetsam-format.md section 2) */
	if (!strcmp(fam, "iPhone") && ma <= 7)
		return 4096;
	if (!strcmp(fam, "iPod") && ma <= 7)
		return 4096;
	if (!strcmp(fam, "iPad") && ma <= 4)
		return 4096;
	return 16384;
}

int gen_product_ram_mb(const char *product)
{
	char fam[32];
	int ma, mi;

	if (split_product(product, fam, sizeof(fam), &ma, &mi) < 0)
		return 4096;
	if (!strcmp(fam, "iPhone")) {
		if (ma <= 4)
			return 512;
		if (ma <= 7)
			return 1024;
		if (ma == 8 || (ma == 9 && (mi == 1 || mi == 3)) ||
		    (ma == 10 && (mi == 1 || mi == 4)))
			return 2048;
		if (ma <= 10 || (ma == 11 && mi == 8))
			return 3072;
		if (ma <= 13)
			return 4096;
		if (ma <= 15)
			return 6144;
		return 8192;
	}
	if (!strcmp(fam, "iPod"))
		return ma <= 5 ? 512 : (ma <= 7 ? 1024 : 2048);
	if (!strcmp(fam, "iPad"))
		return ma <= 3 ? 1024 : (ma <= 6 ? 2048 : (ma <= 8 ? 4096 : 8192));
	return 4096;
}

int gen_product_limit_mb(const char *product)
{
	char fam[32];
	int ma, mi;
	int ram = gen_product_ram_mb(product);

	if (split_product(product, fam, sizeof(fam), &ma, &mi) == 0 && !strcmp(fam, "iPhone")) {
		/* figures measured on real phones (limits.md) */
		if (ma == 10 && (mi == 1 || mi == 4))
			return 1400;
		if (ma == 10)
			return 1392;
		if (ma == 11 && mi == 8)
			return 1850;
		if (ma == 11)
			return 2040;
		if (ma == 12)
			return 2068;
		if (ma == 13)
			return 2098;
		if (ma >= 16)
			return 3376;
	}
	if (ram <= 512)
		return 290;
	if (ram <= 1024)
		return 645;
	if (ram <= 2048)
		return 1395;
	if (ram <= 3072)
		return 2040;
	if (ram <= 4096)
		return 2098;
	return ram / 2;
}

const char *gen_product_soc(const char *product)
{
	char fam[32];
	int ma, mi;

	if (split_product(product, fam, sizeof(fam), &ma, &mi) < 0)
		return "T8030";
	if (!strcmp(fam, "iPhone")) {
		static const char *const socs[] = {
			[3] = "S5L8930X", [4] = "S5L8940X", [5] = "S5L8950X", [6] = "S5L8960X",
			[7] = "T7000",	  [8] = "S8000",    [9] = "T8010",    [10] = "T8015",
			[11] = "T8020",	  [12] = "T8030",   [13] = "T8101",   [14] = "T8110",
			[15] = "T8120",	  [16] = "T8130",   [17] = "T8140",
		};
		if (ma >= 3 && ma <= 17)
			return socs[ma];
		return ma > 17 ? "T8150" : "S5L8930X";
	}
	if (!strcmp(fam, "iPod"))
		return ma <= 5 ? "S5L8942X" : (ma == 7 ? "T7000" : "T8010");
	if (!strcmp(fam, "iPad"))
		return ma <= 3 ? "S5L8945X" : (ma <= 5 ? "T7001" : (ma <= 8 ? "T8027" : "T8103"));
	return "T8030";
}

struct kernel_fact {
	int major;
	const char *date;
	const char *xnu;
};

static const struct kernel_fact kernels[] = {
	{9, "Mon Jun 20 20:10:21 PDT 2016", "3248.60.9~1"},
	{10, "Thu Sep 29 21:56:11 PDT 2016", "3789.22.3~1"},
	{11, "Mon Jun 11 19:06:27 PDT 2018", "4570.70.24~3"},
	{12, "Tue Apr 30 21:41:16 PDT 2019", "4903.262.2~2"},
	{13, "Wed Feb 19 22:57:48 PST 2020", "6153.102.3~1"},
	{14, "Mon Sep 21 00:09:01 PDT 2020", "7195.40.113.0.2~22"},
	{15, "Thu Apr 21 21:51:27 PDT 2022", "8020.122.1~1"},
	{16, "Wed Jun 28 20:52:14 PDT 2023", "8796.142.1~1"},
	{17, "Sat Sep 30 17:17:57 PDT 2023", "10002.2.13~1"},
	{18, "Tue Apr 22 20:37:55 PDT 2025", "11417.122.4~1"},
	{19, "Thu Sep 11 21:02:33 PDT 2025", "12377.1.9~3"},
};

void gen_kernel_string(char *out, size_t size, const char *product, int os_major, int os_minor)
{
	size_t n = sizeof(kernels) / sizeof(kernels[0]);
	const struct kernel_fact *k = &kernels[n - 1];
	bool arm32 = gen_product_is_32bit(product);

	for (size_t i = 0; i < n; i++) {
		if (kernels[i].major == os_major) {
			k = &kernels[i];
			break;
		}
		if (kernels[i].major > os_major) {
			k = &kernels[i > 0 ? i - 1 : 0];
			break;
		}
	}
	snprintf(out, size, "Darwin Kernel Version %d.%d.0: %s; root:xnu-%s/RELEASE_%s_%s",
		 os_major + 6, os_minor, k->date, k->xnu, arm32 ? "ARM" : "ARM64",
		 gen_product_soc(product));
}
