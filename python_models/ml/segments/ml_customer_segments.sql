-- One row per buyer (dim_customer_rfm): the segment the k-means model assigned and its name, with the
-- customer's values of the clustering and profile features. record_type = 'assignment' of the fit table.
with

fit as (

    select * from {{ ref('ml_customer_segments_fit') }}

),

final as (

    select
        customer_id,
        segment_id,
        segment_name,
        k,
        recency_days,
        frequency,
        monetary,
        days_since_first_order,
        avg_order_value,
        sessions_all,
        discounted_order_share,
        online_order_share,
        model_version,
        trained_at

    from fit
    where record_type = 'assignment'

)

select * from final
