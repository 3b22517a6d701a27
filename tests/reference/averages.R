# Reference values for analysis/averages.py (the feedback page's national and provincial means).
#
# Makes a synthetic scored sample (31 provinces, every province with both sexes, both adult age
# bands and both urban/rural, some scores missing), derives the 2020-census adult targets from
# data/reference/china_provinces_census2020.csv independently of analysis/targets.py, rakes an
# svydesign(ids = ~1) with base weights N/n to the margins province, province x sex,
# province x age_band, province x urban (the first of averages.MARGIN_SETS), and writes the
# weights, svymean and svyby(~province) estimates and standard errors.
#   Rscript tests/reference/averages.R [output_dir]
# Writes data/averages_scored.csv and averages_r.json beside this script (or in output_dir).
# The Python tests compare against the committed output; the test marked `r` reruns this script.

suppressMessages(library(survey))

args <- commandArgs(trailingOnly = TRUE)
script_dir <- local({
  a <- commandArgs(trailingOnly = FALSE)
  f <- sub("^--file=", "", a[grep("^--file=", a)])
  if (length(f)) dirname(normalizePath(f)) else getwd()
})
out_dir <- if (length(args)) args[1] else script_dir
dir.create(file.path(out_dir, "data"), showWarnings = FALSE, recursive = TRUE)

census <- read.csv(file.path(script_dir, "..", "..", "data", "reference",
                             "china_provinces_census2020.csv"))
census <- census[order(census$gb_code), ]

# --- the sample ------------------------------------------------------------------------------
set.seed(20260501)
per_province <- 16
rows <- list()
for (code in census$gb_code) {
  combos <- expand.grid(sex = c("male", "female"), age_band = c("15-59", "60+"),
                        urban = c("urban", "rural"), stringsAsFactors = FALSE)
  extra <- data.frame(
    sex = sample(c("male", "female"), per_province - 8, replace = TRUE),
    age_band = sample(c("15-59", "60+"), per_province - 8, replace = TRUE, prob = c(0.75, 0.25)),
    urban = sample(c("urban", "rural"), per_province - 8, replace = TRUE, prob = c(0.6, 0.4)),
    stringsAsFactors = FALSE
  )
  block <- rbind(combos, extra)
  block$province <- code
  rows[[length(rows) + 1]] <- block
}
d <- do.call(rbind, rows)
n <- nrow(d)
clip <- function(x) round(pmin(100, pmax(0, x)), 6)
urb <- as.numeric(d$urban == "urban")
old <- as.numeric(d$age_band == "60+")
d$dim__knowledge <- clip(rnorm(n, 45 + 12 * urb - 8 * old, 18))
d$dim__attitude <- clip(rnorm(n, 60 + 4 * urb, 15))
d$dim__behaviour <- clip(rnorm(n, 55 + 6 * urb - 3 * old, 16))
d$dim__skills <- clip(rnorm(n, 40 + 10 * urb - 10 * old, 20))
d$dim__skills[sample.int(n, 15)] <- NA
d$literacy_index <- 0.25 * (d$dim__knowledge + d$dim__attitude + d$dim__behaviour + d$dim__skills)
d <- d[, c("province", "sex", "age_band", "urban", "dim__knowledge", "dim__attitude",
           "dim__behaviour", "dim__skills", "literacy_index")]
write.csv(d, file.path(out_dir, "data", "averages_scored.csv"), row.names = FALSE, na = "")

# --- census adult targets (aged 15+) ---------------------------------------------------------
adults <- census$population * (100 - census$age_0_14_pct) / 100
old_share <- census$age_60_plus_pct / (100 - census$age_0_14_pct)
male <- census$male_pct / 100
urban <- census$urban_pct / 100
codes <- census$gb_code
pop_province <- data.frame(province = codes, Freq = adults)
pop_sex <- data.frame(province = rep(codes, 2), sex = rep(c("male", "female"), each = 31),
                      Freq = c(adults * male, adults * (1 - male)))
pop_age <- data.frame(province = rep(codes, 2), age_band = rep(c("15-59", "60+"), each = 31),
                      Freq = c(adults * (1 - old_share), adults * old_share))
pop_urban <- data.frame(province = rep(codes, 2), urban = rep(c("urban", "rural"), each = 31),
                        Freq = c(adults * urban, adults * (1 - urban)))

d$w0 <- sum(adults) / n
des <- svydesign(ids = ~1, weights = ~w0, data = d)
raked <- rake(des, list(~province, ~province + sex, ~province + age_band, ~province + urban),
              list(pop_province, pop_sex, pop_age, pop_urban),
              control = list(maxit = 500, epsilon = 1e-13))

# --- estimates -------------------------------------------------------------------------------
vars <- c("dim__knowledge", "dim__attitude", "dim__behaviour", "dim__skills", "literacy_index")
num <- function(x) ifelse(is.finite(x), sprintf("%.17g", as.numeric(x)), "null")
arr <- function(x) paste0("[", paste(num(x), collapse = ","), "]")
parts <- c(sprintf('"n":%d', n), sprintf('"weights":%s', arr(weights(raked))))
national <- c()
provincial <- c()
for (v in vars) {
  f <- as.formula(paste0("~", v))
  m <- svymean(f, raked, na.rm = TRUE)
  national <- c(national, sprintf('"%s":{"estimate":%s,"se":%s}', v, num(coef(m)),
                                  num(SE(m))))
  b <- svyby(f, ~province, raked, svymean, na.rm = TRUE)
  b <- b[order(b$province), ]
  provincial <- c(provincial, sprintf('"%s":{"province":%s,"estimate":%s,"se":%s}', v,
                                      arr(b$province), arr(b[[v]]), arr(SE(b))))
}
parts <- c(parts, sprintf('"national":{%s}', paste(national, collapse = ",")),
           sprintf('"provincial":{%s}', paste(provincial, collapse = ",")))
writeLines(paste0("{", paste(parts, collapse = ","), "}"), file.path(out_dir, "averages_r.json"))
