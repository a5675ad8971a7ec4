//! Import and export through the API: bad files refused whole, skip-invalid, dry runs, XLSX,
//! and an exported file importing back unchanged.

use axum::http::StatusCode;

use crate::common::{TestApp, credit_code};

fn csv(rows: &[String]) -> Vec<u8> {
    let mut out = "统一社会信用代码,名称,所在地,行业,成立日期,从业人数,营业收入(万元),研发费用(元),资质标签,失信主体\n"
        .to_string();
    for r in rows {
        out.push_str(r);
        out.push('\n');
    }
    out.into_bytes()
}

fn good(n: u32) -> String {
    format!(
        "{},甲{n}公司,230125,C3911,2019-03-0{},{},1200.5,150000,high_tech@2024-06-01;tech_sme,否",
        credit_code(n),
        n % 9 + 1,
        10 + n
    )
}

#[tokio::test]
async fn a_file_with_bad_rows_is_refused_whole() {
    let app = TestApp::new();
    let token = app.admin_token();
    let rows = vec![
        good(1),
        format!("{},乙公司,239999,C3911,2019-01-01,5,1,1,,否", credit_code(2)),
        good(3),
        format!("BAD,丙公司,230125,C3911,2030-01-01,-4,1,1,unicorn,也许"),
    ];
    let r = app.post_bytes("/api/v1/imports?file_name=bad.csv", &token, csv(&rows)).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text());
    let job = r.json();
    assert_eq!((job["status"].as_u64(), job["job"]["status"].as_str()), (Some(422), Some("refused")));
    assert!(job["error"].as_str().unwrap().contains("没有写入"));
    assert_eq!((job["report"]["rows"].as_u64(), job["report"]["invalid"].as_u64()), (Some(4), Some(2)));
    let issues = job["report"]["issues"].as_array().unwrap();
    let at = |row: u64, col: &str| {
        issues.iter().find(|i| i["row"] == row && i["column"] == col).map(|i| i["reason"].as_str().unwrap().to_string())
    };
    assert!(at(3, "所在地").unwrap().contains("GB/T 2260"));
    assert!(at(5, "统一社会信用代码").unwrap().contains("18 位"));
    assert!(at(5, "成立日期").unwrap().contains("将来"));
    assert!(at(5, "从业人数").unwrap().contains("负数"));
    assert!(at(5, "资质标签").unwrap().contains("标签字典"));
    assert!(at(5, "失信主体").unwrap().contains("是/否"));
    assert_eq!(app.svc().stats().unwrap().entities, 0, "nothing written");

    // With skip_invalid the good rows land and the report stays.
    let r = app.post_bytes("/api/v1/imports?file_name=bad.csv&skip_invalid=true", &token, csv(&rows)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let job = r.json();
    assert_eq!((job["report"]["inserted"].as_u64(), job["report"]["invalid"].as_u64()), (Some(2), Some(2)));
    let e = app.get_as(&format!("/api/v1/entities/{}", credit_code(1)), &token).await.json();
    assert_eq!(e["rd_expense"], 15.0, "研发费用(元) 150000 is 15 万元");
    assert_eq!(e["tags"][0]["since"], "2024-06-01");
    let history = app.get_as(&format!("/api/v1/entities/{}/history", credit_code(1)), &token).await.json();
    assert_eq!(history[0]["actor"]["kind"], "import");
    let id = job["id"].as_u64().unwrap();
    assert_eq!(app.get_as(&format!("/api/v1/imports/{id}"), &token).await.json()["status"], "applied");
}

#[tokio::test]
async fn file_level_problems_and_dry_runs() {
    let app = TestApp::new();
    let token = app.admin_token();
    let r =
        app.post_bytes("/api/v1/imports?file_name=x.csv", &token, "名称,从业人数\n甲,3\n".as_bytes().to_vec()).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.json()["report"]["issues"][0]["reason"].as_str().unwrap().contains("缺少「统一社会信用代码」列"));

    let r = app.post_bytes("/api/v1/imports?file_name=x.pdf", &token, b"%PDF".to_vec()).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.json()["error"].as_str().unwrap().contains(".csv 和 .xlsx"));

    let r = app.post_bytes("/api/v1/imports?file_name=x.xlsx", &token, b"not a zip".to_vec()).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.json()["report"]["issues"][0]["reason"].as_str().unwrap().contains("XLSX"));

    let dup = csv(&[good(1), good(1)]);
    let r = app.post_bytes("/api/v1/imports?file_name=dup.csv", &token, dup).await;
    assert!(r.json()["report"]["issues"][0]["reason"].as_str().unwrap().contains("与第 2 行"));

    let r = app.post_bytes("/api/v1/imports?file_name=ok.csv&dry_run=true", &token, csv(&[good(1), good(2)])).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json()["report"]["valid"], 2);
    assert_eq!(app.svc().stats().unwrap().entities, 0, "a dry run writes nothing");
    let r = app.post_bytes("/api/v1/imports?file_name=ok.csv", &token, b"".to_vec()).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn exported_files_import_back_unchanged() {
    let app = TestApp::with_demo(150);
    let token = app.admin_token();
    for ext in ["csv", "xlsx"] {
        let file = app.get_as(&format!("/api/v1/export/entities.{ext}"), &token).await;
        assert_eq!(file.status, StatusCode::OK);
        let r = app.post_bytes(&format!("/api/v1/imports?file_name=back.{ext}"), &token, file.body.clone()).await;
        assert_eq!(r.status, StatusCode::CREATED, "{ext}: {}", r.text());
        let report = &r.json()["report"];
        assert_eq!(report["rows"], 150, "{ext}");
        assert_eq!(
            (report["inserted"].as_u64(), report["updated"].as_u64(), report["unchanged"].as_u64()),
            (Some(0), Some(0), Some(150)),
            "{ext}: {report}"
        );
    }
    // Into an empty store, the export recreates the same records, but for the personal data,
    // which a (masked) web export does not carry.
    let csv_file = app.get_as("/api/v1/export/entities.csv", &token).await.body;
    let text = String::from_utf8(csv_file.clone()).unwrap();
    assert!(text.contains("****"), "phones and ID numbers are masked in exports");
    let phone = app.svc().entity_list(&huiqi::model::Who::system("test"), &Default::default()).unwrap().entities[0]
        .contact_phone
        .clone()
        .unwrap();
    assert!(!text.contains(&phone), "no phone number in full");
    let other = TestApp::new();
    let t2 = other.admin_token();
    let r = other.post_bytes("/api/v1/imports?file_name=all.csv", &t2, csv_file.clone()).await;
    assert_eq!(r.json()["report"]["inserted"], 150, "{}", r.text());
    let again = other.get_as("/api/v1/export/entities.csv", &t2).await.body;
    let without_personal = |bytes: &[u8]| -> Vec<Vec<String>> {
        let mut r = csv::ReaderBuilder::new().has_headers(false).from_reader(bytes);
        let rows: Vec<Vec<String>> = r.records().map(|x| x.unwrap().iter().map(String::from).collect()).collect();
        let personal = ["联系电话", "电子邮箱", "法定代表人证件号码"];
        let keep: Vec<usize> = (0..rows[0].len())
            .filter(|&i| !personal.iter().any(|p| rows[0][i].trim_start_matches('\u{feff}') == *p))
            .collect();
        rows.iter().map(|row| keep.iter().map(|&i| row[i].clone()).collect()).collect()
    };
    assert_eq!(without_personal(&again), without_personal(&csv_file));

    let policies = app.get_as("/api/v1/export/policies.xlsx", &token).await;
    assert_eq!(policies.status, StatusCode::OK);
    assert!(policies.body.starts_with(b"PK"), "an XLSX is a zip file");
    let policies = app.get_as("/api/v1/export/policies.csv", &token).await.text();
    assert!(policies.lines().count() > 30 && policies.contains("高新技术企业"));
}

/// More rows than a write batch holds (two whole batches and a part): every row is written with
/// its change set, found by its credit code and its region, and is in the portrait; the same
/// file again changes nothing; a changed file changes every row once.
#[test]
fn a_file_of_several_batches_is_written_whole_and_again_changes_nothing() {
    use huiqi::model::{CreditCode, Who};
    use huiqi::service::entities::EntityQuery;
    use huiqi::service::imports::{BATCH_ROWS, Quiet};

    let app = TestApp::new();
    let svc = app.svc();
    let who = Who::system("test");
    let n = (BATCH_ROWS * 2 + BATCH_ROWS / 3) as u32;
    let file = |employees: u32| {
        let rows: Vec<String> = (0..n)
            .map(|i| good(i).replace(&format!(",{},1200.5", 10 + i), &format!(",{},1200.5", employees + i)))
            .collect();
        csv(&rows)
    };
    let first = file(10);
    let open = |bytes: &[u8]| {
        let bytes = bytes.to_vec();
        move || Ok::<_, std::io::Error>(std::io::Cursor::new(bytes.clone()))
    };
    let job = svc.import_run(&who, "big.csv", open(&first), false, false, &mut Quiet).unwrap();
    let r = &job.report;
    assert_eq!((r.rows, r.inserted, r.updated, r.unchanged, r.invalid), (n as u64, n as u64, 0, 0, 0), "{r:?}");
    assert_eq!(svc.matching_stats().unwrap().entities, n as usize, "the portrait holds every row");
    for i in [0, BATCH_ROWS as u32 - 1, BATCH_ROWS as u32, n - 1] {
        let code = CreditCode::parse(&credit_code(i)).unwrap();
        let file = svc.entity_file(&who, &code).unwrap();
        assert_eq!(file.entity.employees, Some(i64::from(10 + i)), "row {i}");
        assert_eq!(file.history.len(), 1, "one change set for row {i}");
    }
    let (mut in_region, mut after) = (0, 0);
    loop {
        let query = EntityQuery { region: "230125".into(), limit: 500, after, ..EntityQuery::default() };
        let page = svc.entity_list(&who, &query).unwrap();
        in_region += page.entities.len();
        match page.next_after {
            Some(next) => after = next,
            None => break,
        }
    }
    assert_eq!(in_region, n as usize, "the region index lists every row");

    let again = svc.import_run(&who, "big.csv", open(&first), false, false, &mut Quiet).unwrap();
    let r = &again.report;
    assert_eq!((r.inserted, r.updated, r.unchanged), (0, 0, n as u64), "{r:?}");
    let changed = svc.import_run(&who, "big2.csv", open(&file(20)), false, false, &mut Quiet).unwrap();
    let r = &changed.report;
    assert_eq!((r.inserted, r.updated, r.unchanged), (0, n as u64, 0), "{r:?}");
    let code = CreditCode::parse(&credit_code(n - 1)).unwrap();
    let file = svc.entity_file(&who, &code).unwrap();
    assert_eq!(file.entity.employees, Some(i64::from(20 + n - 1)));
    assert_eq!(file.history.len(), 2, "the change is kept in the history");
}
