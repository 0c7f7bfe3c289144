-- One row per segment of the chosen k: its name, size, share of the buyers, and the mean of every
-- clustering and profile feature over its members (original units). record_type = 'profile'.
with

fit as (

    select * from {{ ref('ml_customer_segments_fit') }}

),

final as (

    select
        segment_id,
        segment_name,
        k,
        size as customers,
        share as customer_share,
        recency_days as avg_recency_days,
        frequency as avg_frequency,
        monetary as avg_monetary,
        days_since_first_order as avg_days_since_first_order,
        avg_order_value as avg_order_value,
        sessions_all as avg_sessions,
        discounted_order_share as avg_discounted_order_share,
        online_order_share as avg_online_order_share,
        young_share

    from fit
    where record_type = 'profile'

)

select * from final
